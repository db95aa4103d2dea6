import { badArgument } from '../errors.js';
import { EVENT_TYPES, isEventType, type EventType } from '../events.js';

/** `--type a,b` of replay and follow: the event types to show (BAD_ARGUMENT for an unknown one). */
export function parseTypes(text: string | undefined): ReadonlySet<EventType> | undefined {
  if (text === undefined) return undefined;
  const types = text
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  for (const t of types)
    if (!isEventType(t)) throw badArgument(`--type: unknown event type ${JSON.stringify(t)}; known: ${EVENT_TYPES.join(', ')}`);
  return new Set(types as EventType[]);
}
