import type { Subscription } from 'rxjs';
import type { EventType, LedgerEvent } from '../events.js';
import type { Master } from '../node/master.js';
import { formatDuration } from '../util/duration.js';
import { securityWarnings } from './http-security.js';
import type { Logger } from './log.js';

/** Events logged at debug: a connection's life. Every other event is logged at trace only. */
const DEBUG_EVENTS: ReadonlySet<EventType> = new Set<EventType>([
  'SlaveConnected',
  'SlaveRefused',
  'SlaveTimedOut',
  'SlaveDisconnected',
  'ProtocolViolated',
  'SlaveLeft',
  'SlaveSuperseded',
]);

/** One event as a log message: its type and what identifies it. */
function describe(e: LedgerEvent): string {
  switch (e.type) {
    case 'SlaveConnected':
      return `connection ${e.conn} from ${e.remote}${e.identity !== undefined ? ` (${e.identity})` : ''}`;
    case 'SlaveRefused':
      return `refused ${e.remote}: ${e.reason}`;
    case 'SlaveTimedOut':
      return `connection ${e.conn} timed out after ${formatDuration(e.silentMs)} silent${e.handshake ? ' (no valid frame since it connected)' : ''}`;
    case 'SlaveDisconnected':
      return `connection ${e.conn} disconnected: ${e.reason}`;
    case 'ProtocolViolated':
      return `connection ${e.conn} violated the protocol [${e.code}]: ${e.reason}`;
    case 'SlaveLeft':
      return `connection ${e.conn} left (GOODBYE${e.reason ? `: ${e.reason}` : ''})`;
    case 'SlaveSuperseded':
      return `connection ${e.conn} lost ${e.node} to connection ${e.by}`;
    case 'LoadPushed':
      return `connection ${e.conn}: ${e.node} load ${e.load}`;
    default:
      return e.type;
  }
}

/**
 * The master's log lines, all through `log`: the start line (its human form is the line
 * scripts parse), security warnings, the log failing and recovering, and, at debug or
 * trace, committed events. events$ is subscribed only then: it costs nothing unobserved.
 */
export function logMaster(master: Master, log: Logger, data: string): { stopped(signal: string): void } {
  const { listen, http } = master.addresses;
  const p = master.projection;
  const httpUrl = http ? `${master.options.httpTls ? 'https' : 'http'}://${http.host}:${http.port}` : undefined;
  const tls = master.options.tls !== undefined;
  if (master.cluster) {
    logCluster(master, log, data, httpUrl);
  } else
    log.info(
      {
        event: 'started',
        epoch: p.master.epoch,
        seq: p.seq,
        nodes: p.nodes.size,
        listen: `${listen.host}:${listen.port}`,
        ...(httpUrl && { http: httpUrl }),
        data,
        tls,
      },
      `UP_LISTENING epoch ${p.master.epoch}, slaves on ${listen.host}:${listen.port}` +
        (httpUrl ? `, HTTP on ${httpUrl}` : '') +
        `, log ${data} (seq ${p.seq}, ${p.nodes.size} nodes known)` +
        (tls ? ', TLS with client certificates' : ''),
    );
  for (const warning of securityWarnings(master)) log.warn({ event: 'insecure' }, warning);

  const retryFor = (ms: number) => (ms > 0 ? `for up to ${formatDuration(ms)}` : 'until it works');
  master.health$.subscribe((h) => {
    if (h.type === 'degraded') {
      log.error(
        { event: 'degraded', code: h.error.code, error: h.error.message, retryForMs: h.retryFor },
        `DOWN: ${h.error.message} [${h.error.code}]; slaves are closed, /healthz and least-loaded answer 503; retrying ${retryFor(h.retryFor)}`,
      );
    } else if (h.type === 'retry-failed') {
      if (h.attempts <= 3 || h.attempts % 10 === 0)
        log.error(
          { event: 'retry-failed', code: h.error.code, error: h.error.message, attempts: h.attempts },
          `still DOWN after ${h.attempts} attempts: ${h.error.message}`,
        );
    } else if (h.type === 'recovered') {
      log.info(
        { event: 'recovered', epoch: h.epoch, seq: h.seq, downMs: h.downMs },
        `the event log takes writes again after ${formatDuration(h.downMs)}: UP_LISTENING epoch ${h.epoch} (seq ${h.seq})`,
      );
    } else {
      log.fatal(
        { event: 'gave-up', code: h.error.code, error: h.error.message, downMs: h.downMs },
        `gave up: the event log could not be written for ${formatDuration(h.downMs)} (${h.error.message}); exiting`,
      );
    }
  });

  // At most one line per port, kind and window (src/util/refusals.ts), whatever the rate.
  master.refusals$.subscribe((r) => {
    log.warn(
      { event: 'refused', port: r.port, kind: r.kind, count: r.count },
      `${r.port === 'slave' ? 'slave port' : 'HTTP API'}: ${r.reason}${r.count > 1 ? ` (${r.count} since the last line)` : ''}`,
    );
  });
  // Once per --flap-window per node (the decision says when): both peers, and what is done.
  master.flapping$.subscribe((f) => {
    if (!f.warn) return;
    log.warn(
      {
        event: 'flapping',
        node: f.node,
        takeovers: f.takeovers,
        holder: f.holder.remote,
        holderConn: f.holder.conn,
        refused: f.newcomer.remote,
        holdDownMs: f.holdDown,
      },
      `node ${f.node} is flapping: taken over ${f.takeovers} times within ${formatDuration(f.window)}, by connections from ${f.holder.remote} and ${f.newcomer.remote} (two slaves with the same --addr?); ` +
        `it stays with connection ${f.holder.conn} from ${f.holder.remote} and the others are refused for ${formatDuration(f.holdDown)} (SlaveRefused, loadledger_refused_total)`,
    );
  });

  const dns = master.dns;
  if (dns) {
    const { host, port } = dns.address;
    log.info(
      { event: 'dns', address: `${host}:${port}`, zone: `${master.options.dnsZone.replace(/\.$/, '')}.` },
      `DNS on ${host}:${port} (UDP and TCP), zone ${master.options.dnsZone.replace(/\.$/, '')}.`,
    );
    // once per outage: every answer of the zone is SERVFAIL until the log takes writes again
    dns.servfail$.subscribe((f) => {
      log.error(
        { event: 'dns-servfail', since: new Date(f.since).toISOString(), error: f.error },
        `DNS: answering SERVFAIL while the event log cannot be written (${f.error})`,
      );
    });
  }

  let events: Subscription | undefined;
  if (log.isLevelEnabled('debug')) {
    const trace = log.isLevelEnabled('trace');
    events = master.events$.subscribe({
      next: (e) => {
        if (DEBUG_EVENTS.has(e.type))
          log.debug({ event: e.type, seq: e.seq, ...('conn' in e && { conn: e.conn }), ...('code' in e && { code: e.code }) }, describe(e));
        else if (trace) log.trace({ event: e.type, seq: e.seq }, describe(e));
      },
      error: () => {}, // the log failure is reported through health$
    });
  }
  return {
    stopped(signal) {
      events?.unsubscribe();
      log.info({ event: 'stopped', signal, seq: master.projection.seq }, `stopped (${signal}) at seq ${master.projection.seq}`);
    },
  };
}

/** Master HA: the start line (leader or standby) and every change of role, as log lines. */
function logCluster(master: Master, log: Logger, data: string, httpUrl: string | undefined): void {
  const view = master.cluster!;
  const node = master.options.nodeId;
  const up = (): string => {
    const { listen } = master.addresses;
    const p = master.projection;
    return `UP_LISTENING epoch ${p.master.epoch}, slaves on ${listen.host}:${listen.port}${httpUrl ? `, HTTP on ${httpUrl}` : ''}, log ${data} (seq ${p.seq}, ${p.nodes.size} nodes known)`;
  };
  const doc = view.document();
  if (doc.role === 'leader')
    log.info({ event: 'started', role: 'leader', node, term: doc.term, seq: doc.seq }, `LEADER ${node} of term ${doc.term}: ${up()}`);
  else {
    const of = doc.leader ? `of ${doc.leader.node} (term ${doc.term})` : '(no leader yet)';
    log.info(
      { event: 'started', role: 'standby', node, term: doc.term, seq: doc.seq, ...(httpUrl && { http: httpUrl }) },
      `STANDBY ${node} ${of}${httpUrl ? `, HTTP on ${httpUrl}` : ''}, log ${data} (seq ${doc.seq})`,
    );
  }
  let started = doc.role === 'leader' ? doc.term : 0;
  master.cluster$.subscribe((c) => {
    switch (c.type) {
      case 'elected':
        if (c.term === started) return; // said in the start line
        started = c.term;
        return log.info({ event: 'elected', node, term: c.term, seq: c.seq }, `LEADER ${node} of term ${c.term}: ${up()}`);
      case 'following':
        return log.info(
          { event: 'following', node, leader: c.leader, term: c.term, seq: c.seq },
          `STANDBY ${node}: following ${c.leader} (term ${c.term}) from seq ${c.seq}`,
        );
      case 'fenced':
        return log.warn(
          { event: 'fenced', node, term: c.term, reason: c.reason },
          `FENCED: ${node} stopped leading term ${c.term}: ${c.reason}; slaves dropped, nothing more is written or acknowledged; following the next leader`,
        );
      case 'truncated':
        return log.warn(
          { event: 'truncated', node, from: c.from, to: c.to, leader: c.leader, term: c.term },
          `truncated seq ${c.from}..${c.to} (${c.to - c.from + 1} events) from this log: the leader ${c.leader} (term ${c.term}) never had them (written here in a term this node lost)`,
        );
      case 'snapshot':
        return log.warn(
          { event: 'snapshot', node, seq: c.seq, leader: c.leader },
          `too far behind ${c.leader}'s retention: restarted this log from its snapshot at seq ${c.seq}`,
        );
      case 'ack':
        if (c.local)
          return log.warn(
            { event: 'ack-local', node, inSync: c.members },
            `--ack standby: no standby is in sync; acknowledging on this disk alone (an event acknowledged now is lost if this disk is)`,
          );
        return log.info({ event: 'ack-standby', node, inSync: c.members }, `--ack standby: in sync: ${c.members.join(', ')}`);
      case 'resigned':
        return log.info(
          { event: 'resigned', node, term: c.term, seq: c.seq, handedOver: c.handedOver },
          `resigned term ${c.term} at seq ${c.seq}${c.handedOver ? ' (a standby has everything)' : ' (no standby confirmed everything in time)'}`,
        );
      case 'etcd':
        if (c.reachable) return log.info({ event: 'etcd', reachable: true }, 'etcd reachable again');
        return log.warn({ event: 'etcd', reachable: false, error: c.error }, `etcd out of reach: ${c.error ?? ''}`);
    }
  });
}
