export * from './messages.js';
export * from './encoder.js';
export * from './decoder.js';
export { decodePush, isRejection, isValidAddr, type PushRejection } from './push.js';
