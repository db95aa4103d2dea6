/** `replay --events --since/--until`: a range that is empty by construction is refused. */
import { describe, expect, it } from 'vitest';
import { rangeFilter } from '../../src/cli/commands/replay.js';
import { ErrorCode, LoadLedgerError } from '../../src/errors.js';

const LAST = Date.parse('2026-11-24T03:16:00Z');

function refusal(fn: () => unknown): LoadLedgerError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(LoadLedgerError);
    expect((e as LoadLedgerError).code).toBe(ErrorCode.BAD_ARGUMENT);
    return e as LoadLedgerError;
  }
  throw new Error('expected a throw');
}

describe('rangeFilter', () => {
  it('keeps seqs as seqs and times as times', () => {
    expect(rangeFilter({ since: '5', until: '9' }, LAST)).toEqual({ fromSeq: 5, toSeq: 9 });
    expect(rangeFilter({ since: '03:10', until: '03:12' }, LAST)).toEqual({
      sinceMs: Date.parse('2026-11-24T03:10:00Z'),
      untilMs: Date.parse('2026-11-24T03:12:00Z'),
    });
    expect(rangeFilter({ since: '7', until: '7' }, LAST)).toEqual({ fromSeq: 7, toSeq: 7 });
  });

  it('refuses --until before --since when both are seqs', () => {
    const e = refusal(() => rangeFilter({ since: '10', until: '5' }, LAST));
    expect(e.message).toBe('--until 5 is before --since 10');
  });

  it('refuses --until before --since when both are times, in any notation', () => {
    expect(refusal(() => rangeFilter({ since: '03:14', until: '03:12' }, LAST)).message).toMatch(
      /^--until 03:12 \(2026-11-24T03:12:00\.000Z\) is before --since 03:14 \(2026-11-24T03:14:00\.000Z\)$/,
    );
    expect(refusal(() => rangeFilter({ since: '-1m', until: '2026-11-24T03:00:00Z' }, LAST)).message).toMatch(
      /^--until 2026-11-24T03:00:00Z .* is before --since -1m/,
    );
  });

  it('leaves a seq and a time alone: they compare only against the log', () => {
    expect(rangeFilter({ since: '1000000', until: '03:00' }, LAST)).toEqual({
      fromSeq: 1_000_000,
      untilMs: Date.parse('2026-11-24T03:00:00Z'),
    });
  });
});
