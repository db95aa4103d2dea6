export * from './state.js';
export * from './evolve.js';
export * from './document.js';
export * from './snapshot.js';
export { LoadIndex } from './load-index.js';
