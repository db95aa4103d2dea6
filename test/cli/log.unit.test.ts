/**
 * The master's logger (src/cli/log.ts) over a stand-in stderr: JSON Lines off a terminal,
 * the human lines on one, levels.
 */
import { describe, expect, it } from 'vitest';
import { createLogger, humanLine, type LogFlags } from '../../src/cli/log.js';

function sink(isTTY: boolean): { lines: string[]; write(s: string): void; isTTY: boolean } {
  const lines: string[] = [];
  return { lines, isTTY, write: (s: string) => void lines.push(s) };
}

const info: LogFlags = { logLevel: 'info' };

describe('createLogger', () => {
  it('off a terminal: one JSON object a line with level (its name), ISO time, pid, msg and the fields', () => {
    const out = sink(false);
    const log = createLogger('loadledger master', info, out);
    log.info({ event: 'started', epoch: 3, listen: '127.0.0.1:7400' }, 'UP_LISTENING epoch 3');
    log.warn('careful');
    expect(out.lines).toHaveLength(2);
    for (const line of out.lines) expect(line.endsWith('\n') && !line.slice(0, -1).includes('\n')).toBe(true);
    const rec = JSON.parse(out.lines[0]!);
    expect(rec).toEqual({
      level: 'info',
      time: expect.any(String),
      pid: process.pid,
      event: 'started',
      epoch: 3,
      listen: '127.0.0.1:7400',
      msg: 'UP_LISTENING epoch 3',
    });
    expect(new Date(rec.time).toISOString()).toBe(rec.time);
    expect(JSON.parse(out.lines[1]!)).toMatchObject({ level: 'warn', msg: 'careful' });
  });

  it('on a terminal: the human lines, `NAME: msg`, warnings and debug tagged', () => {
    const out = sink(true);
    const log = createLogger('loadledger master', { logLevel: 'debug' }, out);
    log.info({ epoch: 1 }, 'UP_LISTENING epoch 1, slaves on 127.0.0.1:7400');
    log.warn('open to the network');
    log.error({ code: 'LOG_WRITE_FAILED' }, 'DOWN: disk full [LOG_WRITE_FAILED]');
    log.debug('connection 1 from 127.0.0.1:5000');
    log.trace('not shown');
    expect(out.lines).toEqual([
      'loadledger master: UP_LISTENING epoch 1, slaves on 127.0.0.1:7400\n',
      'loadledger master: warning: open to the network\n',
      'loadledger master: DOWN: disk full [LOG_WRITE_FAILED]\n',
      'loadledger master: debug: connection 1 from 127.0.0.1:5000\n',
    ]);
  });

  it('--log-format wins over the terminal test', () => {
    const tty = sink(true);
    createLogger('x', { logLevel: 'info', logFormat: 'json' }, tty).info('hi');
    expect(JSON.parse(tty.lines[0]!)).toMatchObject({ msg: 'hi' });
    const pipe = sink(false);
    createLogger('x', { logLevel: 'info', logFormat: 'human' }, pipe).info('hi');
    expect(pipe.lines).toEqual(['x: hi\n']);
  });

  it.each([
    ['warn', ['warn', 'error', 'fatal']],
    ['error', ['error', 'fatal']],
    ['silent', []],
    ['trace', ['trace', 'debug', 'info', 'warn', 'error', 'fatal']],
  ] as const)('--log-level %s logs %j', (level, shown) => {
    const out = sink(false);
    const log = createLogger('x', { logLevel: level }, out);
    for (const l of ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const) log[l](l);
    expect(out.lines.map((l) => JSON.parse(l).level)).toEqual(shown);
  });

  it('humanLine', () => {
    expect(humanLine('n', { level: 'fatal', msg: 'gave up' })).toBe('n: gave up\n');
    expect(humanLine('n', { level: 'trace', msg: 'LoadPushed' })).toBe('n: trace: LoadPushed\n');
  });
});
