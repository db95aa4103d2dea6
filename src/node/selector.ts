import { Selector as CoreSelector, type SelectorOptions } from '../selection/selector.js';

/**
 * The Selector of the public API and of the master: p2c draws from Math.random unless
 * `random` is given. (The core's Selector, src/selection/selector.ts, takes its randomness
 * passed in: the pure core reads no randomness of its own.)
 */
export class Selector extends CoreSelector {
  constructor(opts: SelectorOptions = {}) {
    super({ ...opts, random: opts.random ?? Math.random });
  }
}
