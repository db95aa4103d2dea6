import { ErrorCode } from '../../errors.js';
import type { ClusterDocument } from '../../ledger/view.js';
import { fail, send } from '../respond.js';
import type { ApiHost, Call } from '../route.js';
import { integrationsDocument } from './discovery.js';

/** The header every read carries on a master of a cluster: how far behind the leader it is. */
export const LAG_HEADER = 'loadledger-lag';

/** `GET /v1/cluster`: this master's role, term, leader, lag and the members (docs/ha.md), and the interfaces for consumers that are on. */
export function cluster({ host, res }: Call): void {
  send(res, 200, { ...clusterDocument(host), integrations: integrationsDocument(host) });
}

/**
 * `GET /v1/leader`: 200 on the leader, 503 NOT_LEADER elsewhere — for a load balancer's
 * health check (HAProxy `option httpchk`, keepalived `track_script`): the VIP goes to the
 * leader. A master running alone leads itself.
 */
export function leader({ host, res }: Call): void {
  const doc = clusterDocument(host);
  if (doc.role === 'leader' || doc.role === 'standalone') return send(res, 200, { leader: doc.node, term: doc.term });
  const at = doc.leader ? `: ${doc.leader.node} leads (HTTP on ${doc.leader.http})` : ': no leader right now';
  send(res, 503, { error: `this master (${doc.node}) is not the leader${at}`, code: ErrorCode.NOT_LEADER, leader: doc.leader });
}

export function clusterDocument(host: ApiHost): ClusterDocument {
  if (host.cluster) return host.cluster.document();
  return {
    role: 'standalone',
    term: 0,
    node: '',
    leader: null,
    seq: host.log.lastSeq,
    lag: { seq: 0, ms: 0 },
    ack: { mode: 'local', inSync: [], local: true },
    members: [],
    elections: 0,
  };
}

/**
 * Before every read on a master of a cluster: the lag header, and `?max-lag=<duration>`
 * (taken out of the parameters): 503 STALE when this master is further behind than that.
 * Returns false when it answered.
 */
export function checkLag(call: Call, parse: (s: string) => number): boolean {
  const view = call.host.cluster;
  const asked = call.params.get('max-lag');
  call.params.delete('max-lag');
  if (!view) return true;
  const lag = view.lag();
  call.res.setHeader(LAG_HEADER, `seq=${lag.seq}, ms=${lag.ms}`);
  if (asked === null) return true;
  let max: number;
  try {
    max = parse(asked);
  } catch (e) {
    fail(call.res, ErrorCode.BAD_ARGUMENT, `max-lag: ${(e as Error).message}`);
    return false;
  }
  if (lag.ms > max) {
    fail(call.res, ErrorCode.STALE, `this master is ${lag.ms} ms (${lag.seq} events) behind its leader, more than max-lag ${asked}`, {
      [LAG_HEADER]: `seq=${lag.seq}, ms=${lag.ms}`,
    });
    return false;
  }
  return true;
}
