import { Argument, Command, Option } from 'commander';
import { ErrorCode, exitCode, LoadLedgerError } from '../../errors.js';
import type { NodeDocument, StateDocument } from '../../projection/document.js';
import { parseMasterUrls, readCredentials, type CredentialFlags } from '../../client/http-client.js';
import { getFromAny, httpMasters } from '../../client/http-masters.js';
import { Masters, firstAnswer } from '../../client/masters.js';
import { configurable } from '../config.js';
import { die, sayErr, formatAttrs, formatNumber, isoTime, table, writeJson, writeOut } from '../output.js';
import { addCredentialOptions, DEFAULT_HTTP_URL, keyValueArg, withDefault } from '../options.js';
import { POLICIES, type Policy } from '../../selection/policy.js';
import { QueryClient } from '../../client/query-client.js';
import { formatHostPort, parseHostPortList } from '../../util/hostport.js';

interface QueryFlags extends CredentialFlags {
  http: string;
  json?: boolean;
  where?: Record<string, string>;
  policy?: Policy;
  binary?: string;
}

/** The last column: why it is DOWN, else its attributes; a drain first, as it decides eligibility. */
function note(n: NodeDocument): string {
  const text = n.protected ? `protected: ${n.reason ?? ''}` : n.reason ? n.reason : formatAttrs(n.attrs);
  if (!n.drained) return text;
  const drain = `drained${n.drainReason !== undefined ? ` (${n.drainReason})` : ''}`;
  return text ? `${drain}; ${text}` : drain;
}

export function nodesTable(nodes: NodeDocument[]): string {
  return table(
    ['NODE', 'STATE', 'LOAD', 'CAP', 'LAST SEEN', 'SINCE', 'ATTRS / REASON'],
    nodes.map((n) => [n.id, n.state, formatNumber(n.load), formatNumber(n.capacity), isoTime(n.lastSeen), isoTime(n.since), note(n)]),
  );
}

export function stateText(doc: StateDocument): string {
  const up = doc.nodes.filter((n) => n.state === 'PUSH_LOAD_INFO').length;
  const drained = doc.nodes.filter((n) => n.drained).length;
  let out = `seq ${doc.seq}  master ${doc.master.state}${doc.master.reason !== undefined ? ` (${doc.master.reason})` : ''} epoch ${doc.master.epoch} since ${isoTime(doc.master.since)}  nodes ${doc.nodes.length} (${up} up${drained > 0 ? `, ${drained} drained` : ''})`;
  if (doc.pending.length > 0) out += `  connections awaiting first push ${doc.pending.length}`;
  const pr = doc.master.protection;
  if (pr)
    out += `\nmass-failure protection since ${isoTime(pr.since)} until ${isoTime(pr.until)} at the latest: ${pr.timedOut} of ${pr.eligible} eligible nodes timed out at once; timed-out nodes are answered with their last loads`;
  return `${out}\n${doc.nodes.length > 0 ? nodesTable(doc.nodes) : '(no nodes)\n'}`;
}

export function queryCommand(): Command {
  const cmd = new Command('query')
    .description('ask a running master: the least-loaded node, the whole state, or the nodes')
    .addArgument(new Argument('<what>', 'what to ask').choices(['least-loaded', 'state', 'nodes']))
    .addOption(
      withDefault(
        '--http <urls>',
        "the master's HTTP API (http:// or https://); a cluster's masters comma-separated: asks whichever answers",
        DEFAULT_HTTP_URL,
      ),
    )
    .option('--json', 'print the JSON document')
    .option('--where <key=value>', 'only nodes with this attribute (repeatable)', keyValueArg)
    .addOption(new Option('--policy <name>', "least-loaded: how to choose (default: the master's --policy)").choices(POLICIES))
    .option(
      '--binary <host:port>',
      "least-loaded: ask on the master's binary port (QUERY frame) instead of HTTP; a cluster's comma-separated",
    );
  addCredentialOptions(cmd).action(async (what: string, flags: QueryFlags) => {
    try {
      if (flags.binary !== undefined) return await binaryLeastLoaded(what, flags, cmd.getOptionValueSource('http') !== 'default');
      const urls = parseMasterUrls(flags.http);
      const query = new URLSearchParams(flags.where ?? {});
      const path = what === 'least-loaded' ? '/v1/least-loaded' : what === 'state' ? '/v1/state' : '/v1/nodes';
      if (what === 'state' && query.size > 0)
        throw new LoadLedgerError(ErrorCode.BAD_ARGUMENT, '--where applies to least-loaded and nodes, not state');
      if (what === 'least-loaded' && query.has('policy')) {
        throw new LoadLedgerError(
          ErrorCode.BAD_ARGUMENT,
          '--where policy=…: "policy" is reserved on least-loaded (it names the selection policy; use --policy); filter on another attribute',
        );
      }
      if (flags.policy !== undefined) {
        if (what !== 'least-loaded') throw new LoadLedgerError(ErrorCode.BAD_ARGUMENT, `--policy applies to least-loaded, not ${what}`);
        query.set('policy', flags.policy);
      }
      const creds = readCredentials(flags, urls);
      const qs = query.toString();
      const { status, body } = await getFromAny(httpMasters(urls), qs ? `${path}?${qs}` : path, creds);
      if (status !== 200) {
        const err = body as { error?: string; code?: string };
        if (flags.json) writeJson(body);
        sayErr(err.error ?? `HTTP ${status}`);
        process.exit(exitCode(err.code));
      }
      if (flags.json) {
        writeJson(body, 2);
        return;
      }
      if (what === 'least-loaded') writeOut(`${(body as NodeDocument).addr}\n`);
      else if (what === 'state') writeOut(stateText(body as StateDocument));
      else {
        const nodes = (body as { nodes: NodeDocument[] }).nodes;
        writeOut(nodes.length > 0 ? nodesTable(nodes) : '(no nodes)\n');
      }
    } catch (e) {
      die(e);
    }
  });
  // --http and the credentials can also come from --config FILE or LOADLEDGER_* (src/cli/config.ts).
  return configurable(cmd);
}

/** `query least-loaded --binary HOST:PORT`: one QUERY on the slave port, its reply printed. */
async function binaryLeastLoaded(what: string, flags: QueryFlags, httpGiven: boolean): Promise<void> {
  if (what !== 'least-loaded') throw new LoadLedgerError(ErrorCode.BAD_ARGUMENT, `--binary applies to least-loaded, not ${what}`);
  if (httpGiven) throw new LoadLedgerError(ErrorCode.BAD_ARGUMENT, '--binary and --http name two ways to ask: give one');
  const masters = new Masters(parseHostPortList(flags.binary!, '--binary', { defaultPort: 7400 }), formatHostPort);
  // A QUERY changes nothing: a master that cannot be reached, or that drops the connection
  // before it replies (a standby that takes no slave connections), is one to skip.
  const { value: reply } = await firstAnswer(masters, masters.readOrder(), 'answered', async (target) => {
    const client = await QueryClient.connect(target);
    try {
      const r = await client.query({
        ...(flags.policy !== undefined && { policy: flags.policy }),
        ...(flags.where && { where: flags.where }),
      });
      if (!r.ok && masters.all.length > 1 && ELSEWHERE.has(r.code)) return { ok: false, code: r.code, said: `${r.code}: ${r.error}` };
      return { ok: true, value: r };
    } finally {
      await client.close();
    }
  });
  if (flags.json) writeJson(reply, 2);
  if (!reply.ok) {
    sayErr(reply.error);
    process.exitCode = exitCode(reply.code);
    return;
  }
  if (!flags.json) writeOut(`${reply.node.id}\n`);
}

/** QUERY_REPLY codes that mean "ask another master" (as over HTTP). */
const ELSEWHERE: ReadonlySet<string> = new Set([ErrorCode.MASTER_DOWN, ErrorCode.NOT_LEADER, ErrorCode.STALE]);
