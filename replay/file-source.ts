import { ErrorCode, LoadLedgerError } from '../src/errors.js';
import { fromSnapshot } from '../src/projection/snapshot.js';
import { ExportFile } from './file-reader.js';
import type { EventSource } from './source.js';

/**
 * An export file (`loadledger export`) as an event source (--file). Opening it checks the
 * preamble, the header and every frame header through to the trailer, so a truncated or
 * damaged file is refused before anything is printed; each block's checksum is checked
 * as it is read.
 *
 * The file carries the exact projection at firstSeq - 1, so every seq from there to its
 * last has an exact state: base() is that snapshot, the events are folded on top.
 */
export async function openFileSource(path: string): Promise<EventSource> {
  const file = await ExportFile.open(path);
  const describe = `file ${path}`;
  const { firstSeq, lastSeq, snapshot } = file.header;
  const outside = (seq: number): LoadLedgerError | undefined => {
    if (seq < firstSeq - 1) {
      return new LoadLedgerError(
        ErrorCode.SEQ_OUT_OF_RANGE,
        `seq ${seq} is before the start of ${describe}: it holds seqs ${firstSeq}..${lastSeq} and the state at seq ${firstSeq - 1}`,
      );
    }
    if (seq > lastSeq)
      return new LoadLedgerError(ErrorCode.SEQ_OUT_OF_RANGE, `seq ${seq} is after the end of ${describe} (last seq ${lastSeq})`);
    return undefined;
  };
  return {
    describe,
    firstSeq,
    lastSeq,
    async base(seq) {
      const err = outside(seq);
      if (err) throw err;
      return fromSnapshot(snapshot);
    },
    async *read(from, to) {
      // Skipping events the file does not hold would fold a wrong state: refuse instead.
      if (from <= to && from < firstSeq) throw outside(from - 1)!;
      yield* file.read(from, to);
    },
    close: () => file.close(),
  };
}
