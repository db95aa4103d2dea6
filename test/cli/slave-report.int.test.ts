/**
 * `loadledger slave -q` against a master that is not there: it says so (each failure to
 * connect, at most one line per REPORT_FAILURES_EVERY, counting the ones in between), rather
 * than nothing for ever. A real slave against a closed loopback port, its reconnect timers on
 * the manual clock; the lines are what reportSlave writes to stderr.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createSlave, type ReconnectInfo, type Slave } from '../../src/slave/slave.js';
import { REPORT_FAILURES_EVERY, reportSlave } from '../../src/cli/slave-report.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { closedPort } from '../helpers/net.js';

const slaves: Slave[] = [];
afterEach(async () => {
  await Promise.all(slaves.splice(0).map((s) => s.close()));
});

async function refusedSlave(quiet: boolean): Promise<{ slave: Slave; clock: ManualClock; lines: string[]; port: number }> {
  const port = await closedPort();
  const clock = new ManualClock();
  const slave = createSlave({
    master: `127.0.0.1:${port}`,
    load: () => 10,
    scheduler: clock,
    backoff: { initial: 100, max: 1000, jitter: 0 },
  });
  slaves.push(slave);
  const lines: string[] = [];
  reportSlave(slave, { quiet, write: (l) => lines.push(l), now: () => clock.now() });
  return { slave, clock, lines, port };
}

/** The next reconnect (events.once would reject on the 'error' each refusal also emits). */
const reconnecting = (slave: Slave): Promise<ReconnectInfo> => new Promise((resolve) => slave.once('reconnecting', resolve));

/** Runs the backoff timer of the last failure and waits for the next attempt to fail. */
async function nextFailure(slave: Slave, clock: ManualClock, last: ReconnectInfo): Promise<ReconnectInfo> {
  const next = reconnecting(slave);
  await clock.advance(last.delay);
  return next;
}

describe('slave -q against a closed port', () => {
  it('prints the first failure to connect at once, then at most one line per interval with the count in between', async () => {
    const { slave, clock, lines, port } = await refusedSlave(true);
    let r = await reconnecting(slave);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^loadledger slave: cannot connect to 127\\.0\\.0\\.1:${port}: .*ECONNREFUSED.*; retrying$`));

    // Attempts at 100, 200, 400, 800, 1000, 1000 … ms apart: quiet until the interval is over.
    const t0 = clock.now();
    let failures = 0;
    while (clock.now() - t0 + r.delay < REPORT_FAILURES_EVERY) {
      r = await nextFailure(slave, clock, r);
      failures++;
    }
    expect(failures).toBeGreaterThan(3);
    expect(lines).toHaveLength(1);

    await nextFailure(slave, clock, r);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(
      new RegExp(
        `^loadledger slave: still cannot connect to 127\\.0\\.0\\.1:${port} \\(${failures + 1} failed attempts in the last [\\d.]+s\\): .*ECONNREFUSED.*; retrying$`,
      ),
    );
    expect(slave.connected).toBe(false);
  });

  it('without -q every reconnect is said, as before', async () => {
    const { slave, clock, lines } = await refusedSlave(false);
    let r = await reconnecting(slave);
    for (let i = 0; i < 3; i++) r = await nextFailure(slave, clock, r);
    expect(lines).toHaveLength(4);
    expect(lines.every((l) => /^loadledger slave: reconnecting in \d+ms \(.*ECONNREFUSED.*\)$/.test(l))).toBe(true);
  });

  it('a list of masters: each line says which master it goes to next, -q which failed of which', async () => {
    const ports = [await closedPort(), await closedPort()];
    const clock = new ManualClock();
    const make = (quiet: boolean): string[] => {
      const slave = createSlave({
        master: ports.map((p) => `127.0.0.1:${p}`).join(','),
        load: () => 10,
        scheduler: clock,
        backoff: { initial: 100, max: 1000, jitter: 0 },
      });
      slaves.push(slave);
      const lines: string[] = [];
      reportSlave(slave, { quiet, write: (l) => lines.push(l), now: () => clock.now() });
      return lines;
    };
    const [loud, quiet] = [make(false), make(true)];
    await clock.advanceUntil(() => loud.length >= 3, { step: 10, what: 'three reconnects' });
    const [a, b] = ports.map((p) => `127\\.0\\.0\\.1:${p}`);
    expect(loud[0]).toMatch(new RegExp(`^loadledger slave: reconnecting to ${b} in 0ms \\(.*ECONNREFUSED.*\\)$`));
    expect(loud[1]).toMatch(new RegExp(`^loadledger slave: reconnecting to ${a} in 100ms \\(`));
    expect(quiet).toHaveLength(1);
    expect(quiet[0]).toMatch(new RegExp(`^loadledger slave: cannot connect to ${a} \\(of ${a}, ${b}\\): .*ECONNREFUSED.*; retrying$`));
  });
});
