/**
 * `dig` (Debian's dnsutils) for the DNS interface's tests: runs one query against a port on
 * 127.0.0.1 and returns its output. Without the binary the DNS tests that need it skip with
 * one line saying how to install it — except under CI=true, where a missing dig fails the
 * run (.ci/run installs dnsutils).
 */
import { execFile } from 'node:child_process';
import { component } from './component.js';

const DIG = component('dig', ['/usr/bin/dig', '/usr/local/bin/dig'], 'dnsutils', 'DNS tests');
/** The one line a skipped DNS test says. */
export const INSTALL_DIG = DIG.install;

/** Call at the top of a test that needs dig: true to run; false (with the one line) to skip; throws under CI. */
export const digAvailable = (): boolean => DIG.available();

/** `dig @127.0.0.1 -p PORT ARGS... +norec +time=5 +tries=2`: its stdout. */
export function dig(port: number, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      DIG.bin ?? 'dig',
      ['@127.0.0.1', '-p', String(port), ...args, '+norec', '+time=5', '+tries=2'],
      { timeout: 30_000 },
      (e, stdout, stderr) => {
        if (e) reject(new Error(`dig ${args.join(' ')}: ${e.message}\n${stdout}${stderr}`));
        else resolve(stdout);
      },
    );
  });
}

/** The record lines of one section of dig's output (`;; ANSWER SECTION:` up to the blank line). */
export function section(out: string, name: 'ANSWER' | 'ADDITIONAL' | 'AUTHORITY'): string[] {
  const lines = out.split('\n');
  const start = lines.indexOf(`;; ${name} SECTION:`);
  if (start < 0) return [];
  const end = lines.indexOf('', start);
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

/** The header line's status (`NOERROR`, `NXDOMAIN`, ...) and flags (`qr aa tc`). */
export function header(out: string): { status: string; flags: string[] } {
  const status = /status: ([A-Z]+)/.exec(out)?.[1] ?? '';
  const flags = /;; flags: ([a-z ]+);/.exec(out)?.[1]?.trim().split(/\s+/) ?? [];
  return { status, flags };
}
