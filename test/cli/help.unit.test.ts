/**
 * Every `--help` of every command reads like the flags: a default is shown as a person types
 * it (`127.0.0.1:7400`, `1s`, `./data`), never as JSON (`{"host":…}`, `"./data"`), an object's
 * toString, or a duration in bare milliseconds (`(default: 1000)`). Walks the real command
 * tree (src/cli/program.ts) with commander's own help, no child process.
 */
import type { Command, Option } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/program.js';
import { durationArg, positiveDurationArg } from '../../src/cli/options.js';

function commands(cmd: Command, path: string[] = []): Array<{ name: string; cmd: Command }> {
  const name = [...path, cmd.name()].join(' ');
  return [{ name, cmd }, ...cmd.commands.flatMap((c) => commands(c, [...path, cmd.name()]))];
}

const program = buildProgram('0.0.0-test');
const all = commands(program);

const isDuration = (o: Option): boolean =>
  o.flags.includes('<duration>') || o.parseArg === durationArg || o.parseArg === positiveDurationArg;

/** What a help text gets wrong about defaults; [] when nothing. */
function helpFindings(cmd: Command): string[] {
  const text = cmd.helpInformation().replace(/\s+/g, ' '); // commander wraps lines: one space
  const found: string[] = [];
  if (text.includes('{"')) found.push('JSON object ({")');
  if (text.includes('[object')) found.push('[object …]');
  if (/\(default: "/.test(text)) found.push('a JSON-quoted default (default: "…")');
  if (/\(default: \[/.test(text)) found.push('a JSON array default (default: [...])');
  const help = cmd.createHelp();
  for (const o of cmd.options) {
    const bare = /\(default: (\d+(?:\.\d+)?)\)/.exec(help.optionDescription(o).replace(/\s+/g, ' '));
    if (isDuration(o) && bare && Number(bare[1]) !== 0)
      found.push(`${o.long ?? o.flags}: a duration default in bare milliseconds (default: ${bare[1]})`);
  }
  return found;
}

describe('--help', () => {
  it('covers every command of the program', () => {
    expect(all.map((c) => c.name)).toEqual(
      expect.arrayContaining([
        'loadledger',
        'loadledger master',
        'loadledger slave',
        'loadledger query',
        'loadledger replay',
        'loadledger cluster',
      ]),
    );
    expect(all.length).toBeGreaterThanOrEqual(11);
  });

  it.each(all.map((c) => [c.name, c.cmd] as const))('%s: defaults read as typed (no JSON, no bare milliseconds)', (_name, cmd) => {
    expect(helpFindings(cmd)).toEqual([]);
  });

  it('shows the real defaults as a user types them', () => {
    const help = (name: string): string =>
      all
        .find((c) => c.name === `loadledger ${name}`)!
        .cmd.helpInformation()
        .replace(/\s+/g, ' ');
    const master = help('master');
    expect(master).toContain('address for slaves (default: 127.0.0.1:7400)');
    expect(master).toContain('address of the HTTP API (default: 127.0.0.1:7480)');
    expect(master).toContain('(default: ./data)');
    expect(master).toContain('is DOWN (default: 3s)');
    expect(master).toContain('how often retention runs (default: 10s)');
    expect(master).toContain('(default: 5m)'); // --log-retry-for
    expect(master).toContain('(default: keep all)');
    expect(master).not.toContain('keep all) (default'); // said once
    const slave = help('slave');
    expect(slave).toContain('HELLO and push period (default: 1s)');
    expect(slave).toContain('timeout of a cmd: load source (default: 2s)');
    expect(help('query')).toContain('(default: http://127.0.0.1:7480)');
    expect(help('demo')).toContain('(default: 500ms)');
  });

  it('the check itself catches what the issue saw', () => {
    const bad = buildProgram('0.0.0-test').commands.find((c) => c.name() === 'master')!;
    bad
      .option('--bad-interval <duration>', 'x', positiveDurationArg, 1000)
      .option('--bad-addr <host:port>', 'y', (s) => s, { host: '127.0.0.1', port: 7400 } as unknown as string);
    expect(helpFindings(bad)).toEqual(['JSON object ({")', '--bad-interval: a duration default in bare milliseconds (default: 1000)']);
  });
});
