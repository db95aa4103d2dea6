import { ErrorCode, isErrorCode } from '../errors.js';
import { getJson, parseMasterUrls, postJson, type JsonAnswer, type MasterCredentials } from './http-client.js';
import { Masters, firstAnswer, type Attempt } from './masters.js';

/**
 * HTTP clients of a cluster of masters (master HA, docs/ha.md#clients): reads from
 * whichever member answers, writes to the leader. A single URL is a cluster of one and
 * behaves as before: its answer or its error, unchanged.
 */

/** Where the masters are: a URL, a comma-separated list, a list, or a Masters that remembers which answered. */
export type MasterUrls = string | URL | readonly (string | URL)[] | Masters<URL>;

/** `http://a:7480` as messages write it (a path prefix kept, the trailing slash not). */
export function describeUrl(u: URL): string {
  return u.href.replace(/\/$/, '');
}

/** The masters of `input` (a Masters is returned as it is, with its memory of who answered). */
export function httpMasters(input: MasterUrls, flag = '--http'): Masters<URL> {
  if (input instanceof Masters) return input;
  const list =
    input instanceof URL
      ? [input]
      : typeof input === 'string'
        ? parseMasterUrls(input, flag)
        : input.map((u) => (u instanceof URL ? u : parseMasterUrls(u, flag)[0]!));
  return new Masters(list, describeUrl);
}

/**
 * The codes with which a member says "not me": a standby further behind than `max-lag`
 * asked for (STALE), a member that does not lead (NOT_LEADER; for a read, one that is not
 * ready to serve), a master that cannot write its log (MASTER_DOWN). The next is asked.
 */
const READ_ELSEWHERE: ReadonlySet<ErrorCode> = new Set([ErrorCode.STALE, ErrorCode.NOT_LEADER, ErrorCode.MASTER_DOWN]);
/** A write goes to the leader: a member that does not lead, or cannot write, passes it on. */
const WRITE_ELSEWHERE: ReadonlySet<ErrorCode> = new Set([ErrorCode.NOT_LEADER, ErrorCode.MASTER_DOWN]);

/** An answer with the member it came from. */
export type MemberAnswer = JsonAnswer & { from: URL };

function judge(masters: Masters<URL>, answer: JsonAnswer, elsewhere: ReadonlySet<ErrorCode>): Attempt<JsonAnswer> {
  // one master: its answer, whatever it is (no other to ask)
  if (answer.status !== 503 || masters.all.length === 1) return { ok: true, value: answer };
  const body = answer.body as { error?: unknown; code?: unknown } | null;
  const code = body && isErrorCode(body.code) ? body.code : undefined;
  if (code === undefined || !elsewhere.has(code)) return { ok: true, value: answer };
  return { ok: false, code, said: `HTTP 503 ${code}${typeof body?.error === 'string' ? `: ${body.error}` : ''}` };
}

export type RequestOptions = MasterCredentials & { timeoutMs?: number };

/**
 * A read (`GET path`) from whichever master answers: the one that answered last first, then
 * the others in the order given. Every answer counts except a refusal that means "ask
 * another" (503 STALE, NOT_LEADER, MASTER_DOWN) and no answer at all; a 404 or a 503
 * NO_ELIGIBLE_NODE is the cluster's answer.
 *
 * @throws LoadLedgerError: a single master's error as it was; with several, when none
 *   answered, one line naming each and what it said (MASTER_UNREACHABLE unless all gave one code).
 */
export async function getFromAny(input: MasterUrls, path: string, options: RequestOptions = {}): Promise<MemberAnswer> {
  const masters = httpMasters(input);
  const { member, value } = await firstAnswer(masters, masters.readOrder(), 'answered', async (base) =>
    judge(masters, await getJson(base, path, options), READ_ELSEWHERE),
  );
  masters.answered(member);
  return { ...value, from: member };
}

/**
 * A write (`POST path`) to the leader: the last member that took one first, then the others
 * in the order given, until one does not refuse it with 503 NOT_LEADER (or MASTER_DOWN). A
 * member that does not lead records nothing before it refuses, so asking each in turn is as
 * safe as asking `/v1/leader` first, and a round trip shorter. A write that timed out may
 * have been recorded; the writes this is for (drain, undrain) are idempotent.
 */
export async function postToLeader(input: MasterUrls, path: string, body: unknown, options: RequestOptions = {}): Promise<MemberAnswer> {
  const masters = httpMasters(input);
  const { member, value } = await firstAnswer(masters, masters.writeOrder(), 'leads', async (base) =>
    judge(masters, await postJson(base, path, body, options), WRITE_ELSEWHERE),
  );
  masters.led(member);
  return { ...value, from: member };
}
