import { ErrorCode } from '../../errors.js';
import { parseActionBody, parseNodeActionPath, readBody } from '../drain.js';
import { fail, send } from '../respond.js';
import type { Call, Route } from '../route.js';

/**
 * `POST /v1/admin/snapshot`: a snapshot of the projection as it is now, so that a restart
 * or a replay to here folds nothing. Answers `{seq}`, the seq it was taken at. The body of
 * the request is ignored.
 */
export async function adminSnapshot({ host, req, res }: Call): Promise<void> {
  req.resume();
  // snapshot() takes the projection before its first await: this is its seq.
  const seq = host.projection.seq;
  await host.snapshot();
  // snapshot() swallows a failed write (it costs restart time, not data); whoever
  // asked for this one is told.
  const written = await host.log.nearestSnapshot(seq);
  if (written?.seq !== seq) return fail(res, ErrorCode.INTERNAL, `the snapshot at seq ${seq} could not be written`);
  send(res, 200, { seq });
}

/**
 * `POST /v1/nodes/{id}/drain` and `/undrain` (src/http/drain.ts): admin. A path that names
 * no valid node id is still this route (so it needs the token), answered 400.
 */
export function nodeRoute(path: string): Route | undefined {
  const parsed = parseNodeActionPath(path);
  if (parsed === undefined) return undefined;
  return {
    method: 'POST',
    admin: true,
    handle: async ({ host, drains, req, res }) => {
      if (typeof parsed === 'string') {
        req.resume();
        return fail(res, ErrorCode.BAD_ARGUMENT, parsed);
      }
      if (host.cluster && !host.cluster.leading) {
        req.resume();
        const l = host.cluster.document().leader;
        return fail(
          res,
          ErrorCode.NOT_LEADER,
          `this master is a standby: drains go to the leader${l ? ` (${l.node}, HTTP on ${l.http})` : ' (none right now)'}`,
        );
      }
      const read = await readBody(req);
      const body = 'problem' in read ? read.problem : parseActionBody(read.text, parsed.action);
      if (typeof body === 'string') return fail(res, ErrorCode.BAD_ARGUMENT, body);
      const a = await drains.act(host, parsed.id, parsed.action, body.reason);
      send(res, a.status, a.body, a.headers);
    },
  };
}
