/**
 * The one error table (ERRORS in src/errors.ts) and its page, docs/errors.md: the page lists
 * exactly the codes of ErrorCode, with the same HTTP status and exit code.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERRORS, ErrorCode, exitCode, httpStatus, isErrorCode, LoadLedgerError } from '../src/errors.js';

const page = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
const rows = [...page.matchAll(/^\| `([A-Z_]+)` \| ([^|]+) \| ([^|]+) \|/gm)].map((m) => ({
  code: m[1]!,
  http: m[2]!.trim(),
  exit: m[3]!.trim(),
}));

describe('docs/errors.md', () => {
  it('lists exactly the codes of ErrorCode, each once', () => {
    expect(rows.map((r) => r.code).sort()).toEqual(Object.keys(ErrorCode).sort());
  });

  it("gives each code the table's HTTP status and exit code", () => {
    for (const r of rows) {
      const spec = ERRORS[r.code as ErrorCode];
      const http = 'aheadStatus' in spec ? `${spec.status}, ${spec.aheadStatus}` : String(spec.status);
      expect({ code: r.code, http: r.http, exit: r.exit }).toEqual({ code: r.code, http, exit: String(spec.exit) });
    }
  });

  it("says codes don't change between versions", () => {
    expect(page.toLowerCase()).toContain("codes don't change between versions; messages may");
  });
});

describe('ERRORS', () => {
  it('names each code by itself', () => {
    for (const [name, code] of Object.entries(ErrorCode)) expect(code).toBe(name);
  });

  it('decides statuses and exit codes in one place', () => {
    expect(httpStatus(ErrorCode.BAD_ARGUMENT)).toBe(400);
    expect(httpStatus(ErrorCode.METHOD_NOT_ALLOWED)).toBe(405);
    expect(httpStatus(ErrorCode.INTERNAL)).toBe(500);
    expect(httpStatus(ErrorCode.SEQ_OUT_OF_RANGE, false)).toBe(410);
    expect(httpStatus(ErrorCode.SEQ_OUT_OF_RANGE, true)).toBe(416);
    expect(httpStatus(ErrorCode.NOT_FOUND, true)).toBe(404);
    expect(exitCode(ErrorCode.BAD_ARGUMENT)).toBe(2);
    expect(exitCode(ErrorCode.LOG_CORRUPT)).toBe(1);
    expect(exitCode('ENOENT')).toBe(1);
    expect(exitCode(undefined)).toBe(1);
  });

  it('knows its own codes only', () => {
    expect(isErrorCode('LOG_CORRUPT')).toBe(true);
    expect(isErrorCode('toString')).toBe(false);
    expect(isErrorCode('ECONNREFUSED')).toBe(false);
  });

  it('is raised through one class', () => {
    const e = new LoadLedgerError(ErrorCode.BAD_ARGUMENT, 'x');
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('LoadLedgerError');
  });
});
