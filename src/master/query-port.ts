import { createServer, type Server, type Socket } from 'node:net';
import { ErrorCode, LoadLedgerError } from '../errors.js';
import { FrameDecoder } from '../protocol/decoder.js';
import { encodeQueryReply } from '../protocol/encoder.js';
import type { PushLimits } from '../protocol/messages.js';
import type { HostPort } from '../util/hostport.js';
import { answerQuery, type QueryHost } from './query.js';
import { createSlaveTlsServer, type MasterTlsOptions } from './tls.js';

export interface QueryPortOptions {
  listen: HostPort;
  tls?: MasterTlsOptions | undefined;
  handshakeTimeout: number;
  /** A connection that sends no frame this long is closed (ms): the slave port's --dead-after. */
  deadAfter: number;
  /** Connections served at once (the slave port's --max-slaves); more are closed as they arrive. */
  maxSlaves: number;
  limits: Partial<PushLimits>;
}

/** Above this many bytes of replies queued for a client that does not read, it is cut off. */
const MAX_WRITE_BACKLOG = 256 * 1024;

/**
 * A standby's slave port (master HA, docs/ha.md): it answers binary QUERY frames from the
 * standby's own projection, as every read is served from its own log, and takes no slave —
 * a standby records nothing, and slaves report to the leader. Any frame but QUERY (a HELLO,
 * a PUSH_LOAD_INFO, …) closes the connection without a word, so a slave with a list moves
 * on to the next master at once (closed before the master said anything, docs/ha.md#slaves).
 * Nothing here is recorded: a standby's log holds only what the leader wrote.
 */
export class QueryPort {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly options: QueryPortOptions,
    private readonly host: QueryHost,
  ) {}

  /** The address actually bound. */
  get address(): HostPort {
    const a = this.server?.address();
    return a && typeof a === 'object' ? { host: a.address, port: a.port } : this.options.listen;
  }

  async listen(): Promise<void> {
    const tls = this.options.tls;
    const server: Server = tls
      ? createSlaveTlsServer(tls, this.options.handshakeTimeout, {
          admit: () => ({ ok: true }),
          secure: (socket) => this.serve(socket),
          refused: (socket) => socket.destroy(),
        })
      : createServer({ noDelay: true }, (socket) => this.serve(socket));
    this.server = server;
    const { host, port } = this.options.listen;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(
          new LoadLedgerError(
            e.code === 'EADDRINUSE' ? ErrorCode.ADDRESS_IN_USE : ErrorCode.BAD_ARGUMENT,
            `--listen ${host}:${port}: ${e.code === 'EADDRINUSE' ? 'address already in use' : e.message}`,
            { cause: e },
          ),
        ),
      );
      server.listen(port, host, () => resolve());
    });
    server.on('error', () => {}); // an accept() that failed: the client retries (or goes to the leader)
  }

  private serve(socket: Socket): void {
    if (this.sockets.size >= this.options.maxSlaves) return void socket.destroy();
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => {}); // 'close' follows
    socket.setTimeout(this.options.deadAfter, () => socket.destroy());
    const decoder = new FrameDecoder(
      {
        frame: (f) => {
          if (socket.destroyed) return;
          if (f.type !== 'QUERY') return void socket.destroy(); // a slave: it goes to the leader
          if (socket.writableLength > MAX_WRITE_BACKLOG) return void socket.destroy();
          socket.write(encodeQueryReply(answerQuery(this.host, f.query)));
        },
        error: () => socket.destroy(),
      },
      this.options.limits,
    );
    socket.on('data', (chunk: Buffer) => {
      if (!socket.destroyed) decoder.push(chunk);
    });
    socket.resume();
  }

  /** Stops listening and closes every connection; resolves once the listener has closed. */
  close(): Promise<void> {
    const server = this.server;
    for (const s of this.sockets) s.destroy();
    return new Promise<void>((resolve) => (server?.listening ? server.close(() => resolve()) : resolve()));
  }
}
