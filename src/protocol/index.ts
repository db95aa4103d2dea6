export * from './messages.js';
export * from './encoder.js';
export * from './decoder.js';
export { FORBIDDEN_KEY, decodePush, isRejection, isValidAddr, type PushRejection } from './push.js';
export { decodeGoodbye, isGoodbyeRejection, type GoodbyeRejection } from './goodbye.js';
export { decodeQuery, decodeQueryReply, isQueryRejection, type QueryRejection } from './query.js';
export { codePointName, controlProblem, findControl, isSafeName } from './names.js';
