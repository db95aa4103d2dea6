/**
 * A real dnsmasq (Debian's dnsmasq-base) forwarding the registry's zone to a master's DNS
 * port, as docs/integrations.md#dns configures it: in the foreground, on a loopback port
 * that was free a moment ago, stopped by its PID at cleanup. Without the binary the test
 * skips with one line saying how to install it — except under CI=true, where a missing
 * dnsmasq fails the run (.ci/run installs dnsmasq-base).
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Cleanup } from './cleanup.js';
import { component } from './component.js';
import { closedPort } from './net.js';

const DNSMASQ = component('dnsmasq', ['/usr/sbin/dnsmasq', '/usr/local/sbin/dnsmasq'], 'dnsmasq-base', 'DNS forwarder tests');

/** Call at the top of a test file: true to run; false (with the one line) to skip; throws under CI. */
export const dnsmasqAvailable = (): boolean => DNSMASQ.available();

/** The forwarding line of docs/integrations.md, for a master's DNS port. */
export const dnsmasqForward = (port: number, zone = 'loadledger'): string => `server=/${zone}/127.0.0.1#${port}`;

/** Starts dnsmasq forwarding `zone` to 127.0.0.1:`masterPort`; resolves to the port it answers on. */
export async function startDnsmasq(cleanup: Cleanup, masterPort: number): Promise<{ port: number; config: string }> {
  const port = await closedPort();
  const dir = await cleanup.tempDir('loadledger-dnsmasq-');
  const config = [
    'port=' + port,
    'listen-address=127.0.0.1',
    'bind-interfaces',
    'no-resolv',
    'no-hosts',
    dnsmasqForward(masterPort),
    '',
  ].join('\n');
  const file = join(dir, 'dnsmasq.conf');
  writeFileSync(file, config);
  let output = '';
  const proc = spawn(DNSMASQ.bin!, ['--keep-in-foreground', `--conf-file=${file}`, '--pid-file=', '--log-facility=-'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout.setEncoding('utf8').on('data', (s: string) => (output = (output + s).slice(-4000)));
  proc.stderr.setEncoding('utf8').on('data', (s: string) => (output = (output + s).slice(-4000)));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  cleanup.defer('stop dnsmasq', async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    process.kill(proc.pid!, 'SIGTERM');
    await exited;
  });
  await new Promise<void>((resolve, reject) => {
    const check = (): void => {
      if (output.includes('using nameserver')) return resolve();
      if (proc.exitCode !== null) return reject(new Error(`dnsmasq exited ${proc.exitCode}: ${output}`));
      setTimeout(check, 50);
    };
    check();
  });
  return { port, config };
}
