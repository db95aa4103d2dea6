/**
 * Given / when / then for the reducer: a history folded into a fresh projection, one
 * more event, and a look at the documents before and after it.
 */
import { expect } from 'vitest';
import type { LedgerEvent, NewEvent } from '../../src/events.js';
import { stateDocument, type NodeDocument, type StateDocument } from '../../src/projection/document.js';
import { evolve, foldEvents } from '../../src/projection/evolve.js';
import { createProjection, type Projection } from '../../src/projection/state.js';
import { Stamper } from './events.js';

export interface Then {
  /** The document after the event. */
  doc: StateDocument;
  /** The document before the event. */
  before: StateDocument;
  /** The event as folded (stamped with seq and ts). */
  event: LedgerEvent;
  projection: Projection;
}

export function given(...history: NewEvent[]) {
  const clock = new Stamper();
  const projection = foldEvents(createProjection(), clock.stampAll(history));
  return {
    when(e: NewEvent) {
      const before = stateDocument(projection);
      const event = clock.stamp(e);
      const returned = evolve(projection, event);
      expect(returned).toBe(projection); // in place: the fold mutates, never copies
      const t: Then = { doc: stateDocument(projection), before, event, projection };
      return { then: (check: (t: Then) => void): void => check(t) };
    },
  };
}

/** A node of a state document (the test fails, naming the ids there are, when it is absent). */
export function node(doc: StateDocument, id: string): NodeDocument {
  const n = doc.nodes.find((x) => x.id === id);
  if (!n) throw new Error(`no node ${id} in ${JSON.stringify(doc.nodes.map((x) => x.id))}`);
  return n;
}
