/**
 * Sampling the load for the pushes: one read at a time (a slow source skips a round rather
 * than piling up reads), a value that is not a finite number ≥ 0 is a failure, and a failure
 * is reported when it starts or its reason changes, and again when the source recovers.
 */
import { ErrorCode, LoadLedgerError } from '../errors.js';
import { errMessage } from '../util/err.js';
import type { LoadSource } from './load-sources.js';

export type LoadFunction = () => number | Promise<number>;

export interface SampleListener {
  /** The slave is closing: a read that ends now is dropped, not reported. */
  stopped(): boolean;
  /** A read failed; `changed`: the first failure, or one with another reason than the last. */
  failed(err: LoadLedgerError, changed: boolean): void;
  /** The first good read after a failure. */
  recovered(load: number): void;
}

export class LoadSampler {
  private reading = false;
  /** Message of the current load failure, or undefined while the source works. */
  private failure: string | undefined;

  constructor(
    private readonly source: LoadSource,
    private readonly signal: AbortSignal,
    private readonly on: SampleListener,
  ) {}

  /** The load to push, or undefined: a read is still running, it failed, or the slave stopped. */
  async sample(): Promise<number | undefined> {
    if (this.reading) return undefined;
    this.reading = true;
    let load: number;
    try {
      load = await readLoad(this.source, this.signal);
    } catch (e) {
      this.reading = false;
      if (this.on.stopped()) return undefined;
      const err =
        e instanceof LoadLedgerError && e.code === ErrorCode.LOAD_SOURCE_FAILED
          ? e
          : new LoadLedgerError(ErrorCode.LOAD_SOURCE_FAILED, `load source ${this.source.describe}: ${errMessage(e)}`, { cause: e });
      const changed = err.message !== this.failure;
      if (changed) this.failure = err.message;
      this.on.failed(err, changed);
      return undefined;
    }
    this.reading = false;
    if (this.on.stopped()) return undefined;
    if (this.failure !== undefined) {
      this.failure = undefined;
      this.on.recovered(load);
    }
    return load;
  }
}

async function readLoad(source: LoadSource, signal: AbortSignal): Promise<number> {
  const load = await source.read(signal);
  if (typeof load !== 'number' || !Number.isFinite(load) || load < 0) {
    throw new LoadLedgerError(
      ErrorCode.LOAD_SOURCE_FAILED,
      `load source ${source.describe}: gave ${String(load)}, expected a finite number ≥ 0`,
    );
  }
  return load;
}

/** A LoadFunction as a LoadSource; what it throws is a LOAD_SOURCE_FAILED. */
export function functionSource(fn: LoadFunction): LoadSource {
  return {
    describe: fn.name ? `function ${fn.name}` : 'function',
    async read() {
      try {
        return await fn();
      } catch (e) {
        throw new LoadLedgerError(
          ErrorCode.LOAD_SOURCE_FAILED,
          `load source ${fn.name ? `function ${fn.name}` : 'function'}: ${errMessage(e)}`,
          { cause: e },
        );
      }
    },
  };
}
