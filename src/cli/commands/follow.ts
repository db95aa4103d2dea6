import { followHttp } from '../../../replay/http-source.js';
import { eventDetails, eventNode, matches, type TimelineFilter } from '../../../replay/timeline.js';
import { badArgument, ErrorCode, isLoadLedgerError } from '../../errors.js';
import type { LedgerEvent } from '../../events.js';
import { evolve } from '../../projection/evolve.js';
import { fromSnapshot } from '../../projection/snapshot.js';
import { createProjection, type Projection } from '../../projection/state.js';
import { parseMasterUrls, readCredentials, type CredentialFlags } from '../../client/http-client.js';
import { describeUrl, httpMasters } from '../../client/http-masters.js';
import { isoTime, printable, sayErr, writeErr, writeJson, writeOut } from '../output.js';
import { parseTypes } from '../type-filter.js';

interface FollowFlags extends CredentialFlags {
  http?: string;
  json?: boolean;
  node?: string;
  type?: string;
  since?: string;
}

/**
 * `replay --http URL --follow`: the live tail of a running master. Events are folded as
 * they arrive (from the exact state the master sends first), so --node knows which
 * connection is which. When the master stops, waits for it to come back and goes on from
 * the next seq: nothing is missed or shown twice across a restart.
 */
export async function follow(flags: FollowFlags): Promise<void> {
  const urls = parseMasterUrls(flags.http!);
  const creds = readCredentials(flags, urls);
  // a cluster's masters: one that stops or vanishes is followed on by another (docs/ha.md#clients)
  const masters = httpMasters(urls);
  const filter: TimelineFilter = {};
  const types = parseTypes(flags.type);
  if (types) filter.types = types;
  if (flags.node !== undefined) filter.node = flags.node;
  let from: number | undefined;
  if (flags.since !== undefined) {
    if (!/^\d+$/.test(flags.since)) throw badArgument(`--since with --follow takes a seq, got ${JSON.stringify(flags.since)}`);
    from = Math.max(1, Number(flags.since));
  }
  const ac = new AbortController();
  process.once('SIGINT', () => ac.abort());
  process.once('SIGTERM', () => ac.abort());
  let state: Projection = createProjection();
  let shown = 0;
  const onEvent = (e: LedgerEvent): void => {
    const node = eventNode(state, e);
    evolve(state, e);
    if (!matches(filter, e, node)) return;
    shown++;
    if (flags.json) writeJson(e);
    else
      writeOut(
        `${isoTime(e.ts)}  ${String(e.seq).padStart(8)}  ${e.type.padEnd(19)}  ${'conn' in e ? String(e.conn).padStart(5) : '     '}  ${printable(node ?? '').padEnd(21)}  ${eventDetails(e)}\n`,
      );
  };
  let waiting = false;
  while (!ac.signal.aborted) {
    try {
      const end = await followHttp(masters, from, onEvent, ac.signal, { ...creds, onSnapshot: (s) => void (state = fromSnapshot(s)) });
      from = end.lastSeq + 1;
      if (end.reason === 'aborted') break;
      sayErr(
        `${urls.length > 1 ? 'the masters stopped' : 'the master stopped'} at seq ${end.lastSeq}; waiting for ${urls.length > 1 ? 'one' : 'it'} to come back (Ctrl-C to quit)`,
      );
      waiting = true;
    } catch (e) {
      if (!waiting || !isLoadLedgerError(e) || e.code !== ErrorCode.MASTER_UNREACHABLE) throw e;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  writeErr(`followed ${urls.map(describeUrl).join(',')}: ${shown} events shown\n`);
}
