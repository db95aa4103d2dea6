import { ErrorCode, LoadLedgerError, badArgument } from '../errors.js';

/** Validates a master URL given by a person (`--http`). */
export function parseMasterUrl(s: string, flag = '--http'): URL {
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    throw badArgument(`${flag}: expected a URL like http://127.0.0.1:7480, got ${JSON.stringify(s)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw badArgument(`${flag}: expected an http:// URL, got ${JSON.stringify(s)}`);
  return url;
}

/** GET a JSON document from a master; unreachable → MASTER_UNREACHABLE (one clear line). */
export async function getJson(base: URL, path: string, timeoutMs = 5000): Promise<{ status: number; body: unknown }> {
  const url = new URL(path, base);
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).name;
    throw new LoadLedgerError(ErrorCode.MASTER_UNREACHABLE, `master unreachable at ${base.origin} (${cause})`, { cause: e });
  }
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) as unknown };
  } catch {
    throw new LoadLedgerError(ErrorCode.MASTER_UNREACHABLE, `${url.href} did not answer JSON (HTTP ${res.status})`);
  }
}
