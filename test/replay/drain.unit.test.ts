/**
 * Drains in the replay tools, in memory: `--explain` writes them down as changes with their
 * cause (the state may stay the same), `--diff` counts a drained node as no longer
 * eligible, `--events` names the node.
 */
import { describe, expect, it } from 'vitest';
import { diffStates } from '../../replay/diff.js';
import { NodeExplainer } from '../../replay/explain.js';
import { eventDetails, eventNode } from '../../replay/timeline.js';
import type { NewEvent } from '../../src/events.js';
import { stateDocument } from '../../src/projection/document.js';
import { evolve } from '../../src/projection/evolve.js';
import { createProjection } from '../../src/projection/state.js';
import { Stamper, ev } from '../helpers/events.js';

const LOG: NewEvent[] = [
  ev.masterStarted(1),
  ev.connected(1),
  ev.pushed(1, 'a:1', 5),
  ev.drained('a:1', 'deploy'),
  ev.drained('a:1', 'again'),
  ev.pushed(1, 'a:1', 6),
  ev.undrained('a:1'),
  ev.drained('b:1'),
  ev.undrained('b:1'),
];

function explain(node: string) {
  const x = new NodeExplainer(node);
  const p = createProjection();
  for (const e of new Stamper().stampAll(LOG)) {
    x.before(p, e);
    evolve(p, e);
    x.after(p, e);
  }
  return x.transitions.map((t) => [t.from, t.to, t.drain ?? null, t.cause]);
}

describe('replay --explain', () => {
  it('a drain and an undrain of a reporting node are changes with their cause; a second drain is not', () => {
    expect(explain('a:1')).toEqual([
      ['ABSENT', 'PUSH_LOAD_INFO', null, expect.stringMatching(/^first PUSH_LOAD_INFO/)],
      ['PUSH_LOAD_INFO', 'PUSH_LOAD_INFO', 'drained', 'drained by an operator (deploy): not eligible, still connected and reporting'],
      ['PUSH_LOAD_INFO', 'PUSH_LOAD_INFO', 'undrained', 'undrained by an operator: eligible again'],
    ]);
  });

  it('a node drained before it reported, then undrained: it enters the table and leaves it', () => {
    expect(explain('b:1')).toEqual([
      ['ABSENT', 'DOWN', 'drained', 'drained by an operator before it ever reported: it will not be eligible when it connects'],
      ['DOWN', 'ABSENT', 'undrained', 'undrained by an operator: it never reported, so it leaves the table'],
    ]);
  });
});

describe('replay --diff and --events', () => {
  it('--diff: drained is no longer eligible (disappeared), undrained is eligible again (appeared)', () => {
    const clock = new Stamper();
    const p = createProjection();
    const fold = (...es: NewEvent[]) => es.forEach((e) => evolve(p, clock.stamp(e)));
    fold(ev.masterStarted(1), ev.connected(1), ev.pushed(1, 'a:1', 5), ev.connected(2), ev.pushed(2, 'b:1', 5), ev.drained('b:1'));
    const a = stateDocument(p);
    fold(ev.drained('a:1', 'deploy'), ev.undrained('b:1'), ev.drained('c:1'));
    const b = stateDocument(p);
    const d = diffStates(a, b, 10);
    expect(d.disappeared.map((x) => x.id)).toEqual(['a:1']);
    expect(d.appeared.map((x) => [x.id, x.was])).toEqual([
      ['b:1', 'PUSH_LOAD_INFO (drained)'],
      ['c:1', 'absent'],
    ]);
    expect(d.changed).toEqual([]);
  });

  it('--events: the node and what the drain says', () => {
    const p = createProjection();
    const [drained, undrained] = new Stamper().stampAll([ev.drained('a:1', 'deploy'), ev.undrained('a:1')]);
    expect(eventNode(p, drained!)).toBe('a:1');
    expect(eventNode(p, undrained!)).toBe('a:1');
    expect(eventDetails(drained!)).toBe('drained by an operator: deploy');
    expect(eventDetails(undrained!)).toBe('undrained by an operator');
  });
});
