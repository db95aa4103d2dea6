/**
 * The demo's screen and line, from a fixed snapshot.
 */
import { describe, expect, it } from 'vitest';
import { bar, redraw, renderLine, renderScreen, type DemoView } from '../../src/demo/view.js';
import type { NodeDocument } from '../../src/projection/document.js';

const NOW = 1_700_000_000_000;
const node = (id: string, state: NodeDocument['state'], load: number, extra: Partial<NodeDocument> = {}): NodeDocument => ({
  id,
  addr: id,
  state,
  load,
  capacity: 1,
  attrs: {},
  lastSeen: NOW - 250,
  since: NOW - 10_000,
  epoch: 1,
  ...extra,
});

const VIEW: DemoView = {
  now: NOW,
  uptimeMs: 12_345,
  slaves: 3,
  http: 'http://127.0.0.1:40123',
  listen: '127.0.0.1:40100',
  dir: '/tmp/loadledger-demo-abc',
  keep: false,
  doc: {
    seq: 1532,
    master: { state: 'UP_LISTENING', epoch: 1, since: NOW - 12_345 },
    nodes: [
      node('10.0.0.1:8080', 'PUSH_LOAD_INFO', 53.2, { attrs: { zone: 'eu-1' } }),
      node('10.0.0.2:8080', 'PUSH_LOAD_INFO', 12.5),
      node('10.0.0.3:8080', 'DOWN', 40, { reason: 'left (demo: back in 4.0s)', lastSeen: NOW - 3200 }),
    ],
    pending: [],
  },
  least: { id: '10.0.0.2:8080', load: 12.5 },
  eventsPerSec: 37.6,
};

// eslint-disable-next-line no-control-regex -- strips ANSI escapes
const strip = (s: string): string => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');

describe('bar', () => {
  it.each([
    [0, ''],
    [100, '█'.repeat(20)],
    [150, '█'.repeat(20)],
    [-5, ''],
    [50, '█'.repeat(10)],
    [52.5, '█'.repeat(10) + '▌'],
    [0.625, '▏'],
  ])('%d of 100 → %j, padded to 20 cells', (value, drawn) => {
    expect(bar(value)).toBe(drawn.padEnd(20));
  });
});

describe('renderScreen', () => {
  const lines = renderScreen(VIEW, 120, false);
  const text = lines.join('\n');

  it('shows where to look: the HTTP URL with a curl line, and the log directory', () => {
    expect(text).toContain('curl http://127.0.0.1:40123/v1/least-loaded');
    expect(text).toContain('/tmp/loadledger-demo-abc (removed at the end; --keep keeps it)');
  });

  it('has a row per node: state, load, bar, last seen, attributes or why DOWN; the least-loaded one marked', () => {
    expect(lines.find((l) => l.startsWith('10.0.0.1:8080'))).toMatch(
      /^10\.0\.0\.1:8080 +PUSH_LOAD_INFO +53\.2 +█{10}▋ +0\.3s ago +zone=eu-1$/,
    );
    expect(lines.find((l) => l.startsWith('10.0.0.2:8080'))).toMatch(/12\.5 +██▌ +0\.3s ago +← least loaded$/);
    expect(lines.find((l) => l.startsWith('10.0.0.3:8080'))).toMatch(
      /^10\.0\.0\.3:8080 +DOWN +40 +3\.2s ago +left \(demo: back in 4\.0s\)$/,
    );
    expect(text).toContain('least-loaded → 10.0.0.2:8080 (load 12.5)');
    expect(text).toContain('master UP_LISTENING epoch 1 · seq 1532 · 38 events/s · up 12.3s');
  });

  it('prints loads as people write them: no padding zeros, no binary rounding', () => {
    const v: DemoView = {
      ...VIEW,
      doc: { ...VIEW.doc, nodes: [node('a:1', 'PUSH_LOAD_INFO', 0.1 + 0.2), node('b:1', 'PUSH_LOAD_INFO', 81)] },
      least: { id: 'a:1', load: 0.1 + 0.2 },
    };
    const t = renderScreen(v, 120, false);
    expect(t.find((l) => l.startsWith('a:1'))).toMatch(/^a:1 +PUSH_LOAD_INFO +0\.3 /);
    expect(t.find((l) => l.startsWith('b:1'))).toMatch(/^b:1 +PUSH_LOAD_INFO +81 /);
    expect(t.join('\n')).toContain('least-loaded → a:1 (load 0.3)');
  });

  it('escapes what a name or reason from an older log holds: no control character reaches the terminal', () => {
    const evil = '10.0.0.66\b\b\b\b\b\b\b\b\b10.0.0.5';
    const v: DemoView = {
      ...VIEW,
      doc: {
        ...VIEW.doc,
        nodes: [
          node(evil, 'PUSH_LOAD_INFO', 1, { attrs: { 'z\u202eone': '\x1b]0;owned\x07' } }),
          node('x:1', 'DOWN', 2, { reason: 'bye\u0085\r\n' }),
        ],
        pending: [{ conn: 9, remote: '1.2.3.4\x9b:5' } as never],
      },
      least: { id: evil, load: 1 },
    };
    for (const out of [renderScreen(v, 200, false).join('\n'), renderLine(v)]) {
      // eslint-disable-next-line no-control-regex -- none may be left
      expect(out).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]/);
      expect(out).toContain('10.0.0.66\\x08\\x08');
    }
    const screen = renderScreen(v, 200, false).join('\n');
    expect(screen).toContain('z\\u202eone=\\x1b]0;owned\\x07');
    expect(screen).toContain('bye\\x85\\r\\n');
    expect(screen).toContain('1.2.3.4\\x9b:5');
  });

  it('says so when no node is eligible', () => {
    expect(renderScreen({ ...VIEW, least: undefined }, 120, false).join('\n')).toContain('least-loaded → none eligible');
  });

  it('cuts every line to the terminal width (a wrapped line would break the redraw), colours or not', () => {
    for (const color of [false, true]) {
      const narrow = renderScreen(VIEW, 40, color);
      expect(narrow.length).toBe(lines.length);
      for (const l of narrow) expect(strip(l).length).toBeLessThanOrEqual(40);
    }
  });

  it('colours only when asked', () => {
    // eslint-disable-next-line no-control-regex -- no ANSI escape at all
    expect(text).not.toMatch(/\x1b/);
    // eslint-disable-next-line no-control-regex -- an ANSI colour escape
    expect(renderScreen(VIEW, 120, true).join('\n')).toMatch(/\x1b\[31m10\.0\.0\.3:8080/);
  });

  it('redraws in place: home, each line cleared to its end, the rest cleared', () => {
    expect(redraw(['a', 'b'])).toBe('\x1b[Ha\x1b[K\nb\x1b[K\n\x1b[J');
  });
});

describe('renderLine', () => {
  it('is one line: time, seq, rate, least-loaded, then every node', () => {
    expect(renderLine(VIEW)).toBe(
      '22:13:20.000 seq 1532 38 ev/s least-loaded 10.0.0.2:8080 | 10.0.0.1:8080 PUSH_LOAD_INFO 53.2 zone=eu-1 | 10.0.0.2:8080 PUSH_LOAD_INFO 12.5 | 10.0.0.3:8080 DOWN 40 left (demo: back in 4.0s)',
    );
  });
});
