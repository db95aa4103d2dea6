import { Command } from 'commander';
import { getJson, parseMasterUrls, readCredentials, type CredentialFlags } from '../../client/http-client.js';
import { describeUrl } from '../../client/http-masters.js';
import { ErrorCode, LoadLedgerError, isLoadLedgerError } from '../../errors.js';
import { configurable } from '../config.js';
import { die, table, writeJson, writeOut } from '../output.js';
import { addCredentialOptions, DEFAULT_HTTP_URL, withDefault } from '../options.js';

interface ClusterFlags extends CredentialFlags {
  http: string;
  json?: boolean;
}

/** A member as `GET /v1/cluster` lists it (docs/ha.md). */
export interface MemberDoc {
  node: string;
  listen?: string;
  http?: string;
  role?: string;
}

/** `GET /v1/cluster` (docs/ha.md): the fields this command reads; the rest is shown by --json. */
export interface ClusterDoc {
  role: string;
  term: number;
  node: string;
  leader: { node: string; listen?: string; http?: string } | null;
  seq: number;
  lag?: { seq: number; ms: number };
  ack?: { mode: string; inSync?: string[]; local?: boolean };
  members?: MemberDoc[];
}

/** What one address given with --http said. */
export type Answer = { url: string; cluster: ClusterDoc } | { url: string; error: string; code: string };

/** `loadledger cluster`: the members of a cluster, from GET /v1/cluster on every address given. */
export function clusterCommand(): Command {
  const cmd = new Command('cluster')
    .description("show the masters of a cluster (master HA): each one's role, term, seq and how far it is behind the leader")
    .addOption(
      withDefault('--http <urls>', 'the masters to ask, comma-separated (each is asked; any one lists the others)', DEFAULT_HTTP_URL),
    )
    .option('--json', 'print what each address answered (its /v1/cluster document, or the error)')
    .addHelpText(
      'after',
      `
Every address is asked GET /v1/cluster; the members that one lists but that were not asked
show what it knows of them. Exit 0 when at least one answered, 1 when none did.

Example:
  loadledger cluster --http http://a:7480,http://b:7480`,
    );
  addCredentialOptions(cmd).action(async (flags: ClusterFlags) => {
    try {
      const urls = parseMasterUrls(flags.http);
      const creds = readCredentials(flags, urls);
      const answers = await Promise.all(urls.map((u) => ask(u, creds)));
      if (flags.json) writeJson(answers, 2);
      else if (answers.some((a) => 'cluster' in a)) writeOut(clusterText(answers));
      if (!answers.some((a) => 'cluster' in a)) {
        const lines = answers.map((a) => `${a.url}: ${'error' in a ? a.error : ''}`);
        throw new LoadLedgerError(
          ErrorCode.MASTER_UNREACHABLE,
          urls.length === 1 ? lines[0]! : `no master answered (${urls.length} tried): ${lines.join('; ')}`,
        );
      }
    } catch (e) {
      die(e);
    }
  });
  // --http and the credentials can also come from --config FILE or LOADLEDGER_* (src/cli/config.ts).
  return configurable(cmd);
}

async function ask(u: URL, creds: ReturnType<typeof readCredentials>): Promise<Answer> {
  const url = describeUrl(u);
  try {
    const r = await getJson(u, '/v1/cluster', creds);
    const body = r.body as { error?: unknown; code?: unknown; role?: unknown };
    if (r.status === 200 && typeof body.role === 'string') return { url, cluster: r.body as ClusterDoc };
    if (r.status === 404)
      return { url, error: 'no GET /v1/cluster (HTTP 404): a loadledger older than master HA', code: ErrorCode.NOT_FOUND };
    return {
      url,
      error: `HTTP ${r.status}${typeof body.code === 'string' ? ` ${body.code}` : ''}${typeof body.error === 'string' ? `: ${body.error}` : ''}`,
      code: typeof body.code === 'string' ? body.code : ErrorCode.MASTER_UNREACHABLE,
    };
  } catch (e) {
    if (!isLoadLedgerError(e)) throw e;
    return { url, error: e.message.replace(`master unreachable at ${u.origin} `, 'unreachable '), code: e.code };
  }
}

/** How far behind: `-` on the leader, else events and ms. */
function lagText(d: ClusterDoc): string {
  if (d.role === 'leader' || d.role === 'standalone' || !d.lag) return '-';
  return `${d.lag.seq} events, ${d.lag.ms} ms`;
}

/** The table of the members: one row per member, what it said of itself where it was asked. */
export function clusterText(answers: readonly Answer[]): string {
  type Row = { node: string; role: string; term: string; seq: string; lag: string; http: string; note: string };
  const rows = new Map<string, Row>();
  const asked = answers.flatMap((a) => ('cluster' in a ? [a] : []));
  // what the members say of each other first; a member's own answer wins
  for (const a of asked) {
    for (const m of a.cluster.members ?? []) {
      if (!rows.has(m.node))
        rows.set(m.node, {
          node: m.node,
          role: m.role ?? '?',
          term: '',
          seq: '',
          lag: '',
          http: m.http ?? '',
          note: `not asked (listed by ${a.cluster.node || a.url})`,
        });
    }
  }
  for (const a of asked) {
    const d = a.cluster;
    const key = d.node || a.url;
    const ack =
      d.role === 'leader' && d.ack
        ? `ack ${d.ack.mode}${d.ack.mode === 'standby' ? (d.ack.local ? ', none in sync: acknowledging locally' : `, in sync: ${(d.ack.inSync ?? []).join(',') || '-'}`) : ''}`
        : '';
    rows.set(key, { node: d.node || '-', role: d.role, term: String(d.term), seq: String(d.seq), lag: lagText(d), http: a.url, note: ack });
  }
  for (const a of answers)
    if ('error' in a) rows.set(a.url, { node: '?', role: '?', term: '', seq: '', lag: '', http: a.url, note: a.error });

  const rank = (r: Row): number => (r.role === 'leader' || r.role === 'standalone' ? 0 : r.role === '?' ? 2 : 1);
  const sorted = [...rows.values()].sort((x, y) => rank(x) - rank(y) || x.node.localeCompare(y.node));
  let head: string;
  const leaders = new Map(
    asked.flatMap((a) => (a.cluster.leader ? [[`${a.cluster.leader.node}@${a.cluster.term}`, a.cluster] as const] : [])),
  );
  if (asked.length === 0) head = 'no master answered';
  else if (asked.every((a) => a.cluster.role === 'standalone'))
    head = asked.length === 1 ? 'a master running alone (no --etcd)' : 'masters running alone (no --etcd): not one cluster';
  else if (leaders.size === 0) head = 'no leader right now';
  else if (leaders.size > 1)
    head = `members disagree on the leader: ${[...leaders.values()].map((d) => `${d.node} says ${d.leader!.node} (term ${d.term})`).join(', ')}`;
  else {
    const d = [...leaders.values()][0]!;
    head = `leader ${d.leader!.node} (term ${d.term})${d.leader!.http ? `, HTTP ${d.leader!.http}` : ''}${d.leader!.listen ? `, slaves ${d.leader!.listen}` : ''}`;
  }
  return `${head}\n${table(
    ['NODE', 'ROLE', 'TERM', 'SEQ', 'LAG', 'HTTP', 'NOTE'],
    sorted.map((r) => [r.node, r.role, r.term || '-', r.seq || '-', r.lag || '-', r.http || '-', r.note]),
  )}`;
}
