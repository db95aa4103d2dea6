import { Argument, Command } from 'commander';
import { ErrorCode, LoadLedgerError, badArgument } from '../../errors.js';
import { MAX_DRAIN_REASON_BYTES, type NodeAction } from '../../decisions/drain.js';
import { isNodeId } from '../../util/node-id.js';
import { controlProblem } from '../../protocol/names.js';
import type { NodeDocument } from '../../projection/document.js';
import { parseMasterUrls, readCredentials, type CredentialFlags } from '../../client/http-client.js';
import { postToLeader } from '../../client/http-masters.js';
import { configurable } from '../config.js';
import { die, isoTime, writeJson, writeOut } from '../output.js';
import { addCredentialOptions, DEFAULT_HTTP_URL, withDefault } from '../options.js';

interface NodeActionFlags extends CredentialFlags {
  http: string;
  reason?: string;
  json?: boolean;
}

/** `loadledger drain ID [--reason TEXT]`: the node stays connected and reported, but is not eligible. */
export function drainCommand(): Command {
  return nodeActionCommand('drain')
    .description(
      'take a node out of the answers (maintenance): it stays connected and reported, but no policy picks it until undrain; recorded in the log',
    )
    .option('--reason <text>', `why, kept in the log (at most ${MAX_DRAIN_REASON_BYTES} bytes)`)
    .addHelpText(
      'after',
      `
Needs the master's admin token (--token-file FILE or $LOADLEDGER_TOKEN_FILE). A node not in
the table yet is drained ahead: it will not be eligible when it connects. Draining a drained
node records nothing. Exit 0 once the drain is in the log; 1 when the master refused or
could not record it; 2 for a bad ID or flag.

Examples:
  loadledger drain 10.0.0.5:8080 --reason "kernel upgrade" --token-file admin.token
  loadledger undrain 10.0.0.5:8080 --token-file admin.token`,
    );
}

/** `loadledger undrain ID`: eligible again (once it reports). */
export function undrainCommand(): Command {
  return nodeActionCommand('undrain').description('put a drained node back into the answers (once it reports); recorded in the log');
}

function nodeActionCommand(action: NodeAction): Command {
  const cmd = new Command(action)
    .addArgument(new Argument('<id>', 'the node id, as in the table: host:port (IPv6 as [::1]:8080), host, or an IP'))
    .addOption(
      withDefault(
        '--http <urls>',
        "the master's HTTP API (http:// or https://); a cluster's masters comma-separated: the drain goes to the leader",
        DEFAULT_HTTP_URL,
      ),
    )
    .option('--json', 'print the node document the master answered');
  addCredentialOptions(cmd).action(async (id: string, flags: NodeActionFlags) => {
    try {
      await run(action, id, flags);
    } catch (e) {
      die(e);
    }
  });
  return configurable(cmd);
}

async function run(action: NodeAction, id: string, flags: NodeActionFlags): Promise<void> {
  const urls = parseMasterUrls(flags.http);
  const control = controlProblem(id, 'the node id');
  if (control !== undefined) throw badArgument(control);
  if (!isNodeId(id)) throw badArgument(`${JSON.stringify(id)} is not a node id: host:port (IPv6 as [::1]:8080), host, or an IP address`);
  if (flags.reason !== undefined) {
    if (Buffer.byteLength(flags.reason) > MAX_DRAIN_REASON_BYTES)
      throw badArgument(`--reason: longer than ${MAX_DRAIN_REASON_BYTES} bytes`);
    const control = controlProblem(flags.reason, '--reason');
    if (control !== undefined) throw badArgument(control);
  }
  const creds = readCredentials(flags, urls);
  const body = flags.reason !== undefined ? { reason: flags.reason } : {};
  const answer = await postToLeader(urls, `/v1/nodes/${encodeURIComponent(id)}/${action}`, body, creds);
  if (answer.status !== 200) {
    const err = answer.body as { error?: string; code?: string };
    if (flags.json) writeJson(answer.body);
    // The master refused the ID or the body: the person's input (exit 2), like a bad flag.
    const code = Object.values(ErrorCode).find((c) => c === err.code) ?? ErrorCode.MASTER_UNREACHABLE;
    throw new LoadLedgerError(code, `${action} ${id}: ${err.error ?? `HTTP ${answer.status}`}`);
  }
  const doc = answer.body as NodeDocument;
  if (flags.json) {
    writeJson(doc, 2);
    return;
  }
  const header = answer.headers['x-event-seq'];
  const seq = typeof header === 'string' ? header : undefined;
  writeOut(`${describe(action, id, doc, seq)}\n`);
}

/** The one line a person reads: what happened, and what it means for the node. */
export function describe(action: NodeAction, id: string, doc: NodeDocument, seq: string | undefined): string {
  const neverReported = doc.epoch === 0 && doc.lastSeen === 0;
  const why = doc.drainReason !== undefined ? ` (${doc.drainReason})` : '';
  if (action === 'drain') {
    if (seq === undefined) return `${id} was already drained since ${isoTime(doc.drainedSince ?? 0)}${why}: nothing recorded`;
    if (neverReported) return `drained ${id}${why} at seq ${seq}: not in the table yet, it will not be eligible when it connects`;
    return `drained ${id}${why} at seq ${seq}: not eligible until undrained (${doc.state}${doc.state === 'PUSH_LOAD_INFO' ? ', still connected and reporting' : ''})`;
  }
  if (seq === undefined) return `${id} was not drained: nothing recorded`;
  if (neverReported) return `undrained ${id} at seq ${seq}: it never reported, so it left the table`;
  return `undrained ${id} at seq ${seq}: ${doc.state === 'PUSH_LOAD_INFO' ? 'eligible again' : `${doc.state}, eligible once it reports`}`;
}
