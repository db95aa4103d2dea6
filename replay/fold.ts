import { ErrorCode, LoadLedgerError } from '../src/errors.js';
import type { LedgerEvent } from '../src/events.js';
import { evolve } from '../src/projection/evolve.js';
import type { Projection } from '../src/projection/state.js';
import type { EventSource } from './source.js';

export interface FoldOptions {
  /** Called with events folded so far and the total to fold. */
  onProgress?: (done: number, total: number) => void;
  /** Sees each event with the state just before it is applied. */
  before?: (state: Projection, event: LedgerEvent) => void;
  /** Sees each event with the state just after it is applied. */
  after?: (state: Projection, event: LedgerEvent) => void;
}

/** Folds `source` from `state` (in place) up to and including `to`. */
export async function foldTo(source: EventSource, state: Projection, to: number, opts: FoldOptions = {}): Promise<Projection> {
  if (to <= state.seq) return state;
  state.index.suspend();
  try {
    await foldBatches(source, state, to, opts);
  } finally {
    state.index.resume(state.nodes.values());
  }
  return state;
}

async function foldBatches(source: EventSource, state: Projection, to: number, opts: FoldOptions): Promise<void> {
  const total = Math.max(0, to - state.seq);
  let done = 0;
  const { before, after, onProgress } = opts;
  for await (const batch of source.read(state.seq + 1, to)) {
    // A gap (events deleted under us by retention) must fail, never fold into a wrong state.
    if (batch[0]!.seq !== state.seq + 1) {
      throw new LoadLedgerError(
        ErrorCode.SEQ_OUT_OF_RANGE,
        `${source.describe}: expected seq ${state.seq + 1}, found ${batch[0]!.seq} (events removed by retention?)`,
      );
    }
    if (before || after) {
      for (const e of batch) {
        before?.(state, e);
        evolve(state, e);
        after?.(state, e);
      }
    } else {
      for (const e of batch) evolve(state, e);
    }
    done += batch.length;
    onProgress?.(done, total);
  }
  // A source that ends early must fail too: the state it leaves is not the state at `to`.
  if (state.seq < to) {
    throw new LoadLedgerError(
      ErrorCode.LOG_CORRUPT,
      `${source.describe}: the events end at seq ${state.seq}, where seq ${to} was asked for`,
      { seqs: { from: state.seq + 1, to } },
    );
  }
}

/** The projection just after `seq`: the source's nearest base, then the tail folded. */
export async function stateAt(source: EventSource, seq: number, opts: FoldOptions = {}): Promise<Projection> {
  return foldTo(source, await source.base(seq), seq, opts);
}
