import { connect, type Socket } from 'node:net';
import { ErrorCode, LoadLedgerError } from '../errors.js';
import { FrameDecoder } from '../protocol/decoder.js';
import { HELLO_ACK_FRAME, encodeQuery, type QueryFields } from '../protocol/encoder.js';
import type { QueryReply } from '../protocol/messages.js';
import { formatHostPort, parseHostPortList, type HostPort } from '../util/hostport.js';
import { Masters, firstAnswer, unreachableError } from './masters.js';

/** MASTER_UNREACHABLE `master unreachable at WHERE (WHY)`, in the words the HTTP client uses. */
const lost = (where: string, why: string, cause?: unknown): LoadLedgerError => unreachableError(where, why, cause);

/** PROTOCOL.md "Transport": a master's slave port, where the binary QUERY is asked. */
const DEFAULT_PORT = 7400;

/** Where the masters are: one, a comma-separated `a:7400,b:7400`, a list, or a Masters that remembers which answered. */
export type QueryTargets = HostPort | string | readonly HostPort[] | Masters<HostPort>;

export interface QueryClientOptions {
  /** Give up connecting after this long (ms). Default 5000. */
  connectTimeout?: number;
}

interface Pending {
  id: number;
  resolve: (r: QueryReply) => void;
  reject: (e: LoadLedgerError) => void;
}

/**
 * A client of the master's binary port that asks QUERY and reads QUERY_REPLY (docs/protocol.md
 * "Binary queries"). Queries are pipelined on one connection: `query()` writes at once and
 * its promise resolves with the reply, which the master sends in request order; each
 * carries an id that the reply must echo. It answers the master's HELLO with HELLO_ACK
 * (as docs/protocol.md "Liveness" asks of everyone), so an idle client stays connected. No reconnect: once
 * the connection is lost, every pending and later query rejects with MASTER_UNREACHABLE.
 *
 * `ok: false` replies (NO_ELIGIBLE_NODE, MASTER_DOWN, BAD_ARGUMENT) resolve: they are
 * answers. Rejections are for the connection: lost, or a reply that does not decode.
 */
export class QueryClient {
  private readonly pending: Pending[] = [];
  private nextId = 0;
  private failure: LoadLedgerError | undefined;
  private readonly decoder: FrameDecoder;
  private readonly closed: Promise<void>;

  private constructor(
    private readonly socket: Socket,
    readonly target: HostPort,
  ) {
    this.decoder = new FrameDecoder(
      {
        frame: (f) => {
          if (f.type === 'HELLO') socket.write(HELLO_ACK_FRAME);
          else if (f.type === 'QUERY_REPLY') this.replied(f.reply);
        },
        error: (e) => this.fail(new LoadLedgerError(e.code, `${this.where}: ${e.reason}`)),
      },
      {},
      { replies: true },
    );
    socket.on('data', (chunk: Buffer) => this.decoder.push(chunk));
    socket.on('error', (e: NodeJS.ErrnoException) => this.fail(lost(this.where, e.code ?? e.message, e)));
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.once('close', () => this.fail(lost(this.where, 'the master closed the connection')));
  }

  /**
   * Connects to a master's slave port (plain TCP); with the masters of a cluster, to the
   * first that takes the connection (the one that did last first, then in the order given).
   * Rejects with MASTER_UNREACHABLE: with several, one line naming each and what it said.
   * `target` is the one it connected to.
   */
  static async connect(targets: QueryTargets, opts: QueryClientOptions = {}): Promise<QueryClient> {
    const masters =
      targets instanceof Masters
        ? targets
        : new Masters(
            typeof targets === 'string'
              ? parseHostPortList(targets, 'master', { defaultPort: DEFAULT_PORT })
              : Array.isArray(targets)
                ? [...(targets as readonly HostPort[])]
                : [targets as HostPort],
            formatHostPort,
          );
    const { member, value } = await firstAnswer(masters, masters.readOrder(), 'answered', async (t) => ({
      ok: true,
      value: await QueryClient.connectOne(t, opts),
    }));
    masters.answered(member);
    return value;
  }

  private static connectOne(target: HostPort, opts: QueryClientOptions): Promise<QueryClient> {
    const where = `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
    return new Promise((resolve, reject) => {
      const socket = connect({ host: target.host, port: target.port, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(lost(where, `no connection after ${opts.connectTimeout ?? 5000} ms`));
      }, opts.connectTimeout ?? 5000);
      socket.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(lost(where, e.code ?? e.message, e));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new QueryClient(socket, target));
      });
    });
  }

  /** Queries written and not answered yet. */
  get inFlight(): number {
    return this.pending.length;
  }

  /**
   * Asks for a node: `policy` (default: the master's), `where` attribute filters. The id is
   * the client's; one given in `q` is ignored.
   */
  query(q: Omit<QueryFields, 'id'> = {}): Promise<QueryReply> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId;
    this.nextId = (this.nextId + 1) >>> 0;
    let frame: Buffer;
    try {
      frame = encodeQuery({ ...q, id });
    } catch (e) {
      return Promise.reject(new LoadLedgerError(ErrorCode.BAD_ARGUMENT, (e as Error).message, { cause: e }));
    }
    return new Promise((resolve, reject) => {
      this.pending.push({ id, resolve, reject });
      this.socket.write(frame);
    });
  }

  /** Closes the connection; pending queries reject. */
  async close(): Promise<void> {
    this.fail(new LoadLedgerError(ErrorCode.MASTER_UNREACHABLE, `${this.where}: the client was closed`));
    await this.closed;
  }

  private get where(): string {
    return `${this.target.host.includes(':') ? `[${this.target.host}]` : this.target.host}:${this.target.port}`;
  }

  private replied(r: QueryReply): void {
    const p = this.pending.shift();
    if (!p || r.id !== p.id) {
      const why = p ? `a reply for query ${String(r.id)} where ${p.id} was next` : 'a reply to no query';
      this.fail(new LoadLedgerError(ErrorCode.QUERY_MALFORMED, `${this.where}: ${why}`));
      if (p) p.reject(this.failure!);
      return;
    }
    p.resolve(r);
  }

  private fail(e: LoadLedgerError): void {
    if (this.failure) return;
    this.failure = e;
    this.decoder.close();
    this.socket.destroy();
    for (const p of this.pending.splice(0)) p.reject(e);
  }
}
