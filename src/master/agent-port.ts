import { createServer, type Server, type Socket } from 'node:net';
import type { Clock } from '../clock.js';
import { ErrorCode, LoadLedgerError } from '../errors.js';
import type { Degraded } from '../ledger/view.js';
import type { WeightsView } from '../ledger/weights.js';
import type { Projection } from '../projection/state.js';
import { AGENT_BAD_REQUEST, AGENT_MAX_LINE, agentReply } from '../selection/agent.js';
import { AnswerStats } from '../util/answer-stats.js';
import type { HostPort } from '../util/hostport.js';

export interface AgentPortOptions {
  listen: HostPort;
  scheduler: Clock;
  /** A line without its `\n` is complete once nothing more came for this long (ms). */
  settle?: number;
  /** Whatever arrived, a connection is answered and closed this long after it opened (ms): slowloris. */
  deadline?: number;
  /** Connections served at once; more are closed as they arrive. */
  maxConnections?: number;
}

/** The agent's name among the interfaces for consumers (the `interface` label in /metrics). */
export const AGENT_INTEGRATION = 'haproxy-agent';

/**
 * HAProxy's agent-check on its own port (`--agent HOST:PORT`, docs/integrations.md): a thin
 * socket adapter over `agentReply` (src/selection/agent.ts). One request per connection:
 * the node id as one line (with or without its `\n`), one line back, close. Memory per
 * client is bounded (AGENT_MAX_LINE bytes), and so is its time (`deadline`); bad input gets
 * AGENT_BAD_REQUEST and a closed connection. Reads the projection it is given (leader or
 * standby: its own log) and the shared weights; while the log cannot be written
 * (`degraded`), it closes each connection without a reply.
 */
export class AgentPort {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  /**
   * Requests answered, errors among them (bad lines, timeouts with nothing sent), and how
   * long each took: the master lists the agent as the `haproxy-agent` interface
   * (`/healthz`, `/v1/cluster`, `/metrics`) with these counters.
   */
  readonly stats = new AnswerStats();

  constructor(
    private readonly options: AgentPortOptions,
    private readonly host: { readonly projection: Projection; readonly weights: WeightsView; readonly degraded?: Degraded | undefined },
  ) {}

  get address(): HostPort {
    const a = this.server?.address();
    return a && typeof a === 'object' ? { host: a.address, port: a.port } : this.options.listen;
  }

  async listen(): Promise<void> {
    const server = createServer({ noDelay: true }, (socket) => this.serve(socket));
    this.server = server;
    const { host, port } = this.options.listen;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(
          new LoadLedgerError(
            e.code === 'EADDRINUSE' ? ErrorCode.ADDRESS_IN_USE : ErrorCode.BAD_ARGUMENT,
            `--agent ${host}:${port}: ${e.code === 'EADDRINUSE' ? 'address already in use' : e.message}`,
            { cause: e },
          ),
        ),
      );
      server.listen(port, host, () => resolve());
    });
    server.on('error', () => {}); // a failed accept(): HAProxy checks again
  }

  private serve(socket: Socket): void {
    if (this.sockets.size >= (this.options.maxConnections ?? 1024)) return void socket.destroy();
    const clock = this.options.scheduler;
    const started = clock.now();
    this.sockets.add(socket);
    let buffered = '';
    let done = false;
    let settle: ReturnType<Clock['setTimeout']> | undefined;
    const answer = (line: string | undefined): void => {
      if (done) return;
      done = true;
      clock.clearTimeout(settle);
      clock.clearTimeout(deadline);
      if (this.host.degraded) {
        // The log cannot be written: no reply, so HAProxy keeps the state it had (it changes
        // nothing on a check that closes without a line), as Prometheus and Envoy keep theirs
        // on a 503. Counted as an error.
        this.stats.record((clock.now() - started) / 1000, true);
        socket.end();
        socket.removeAllListeners('data');
        return;
      }
      const { reply, error } =
        line === undefined
          ? { reply: AGENT_BAD_REQUEST, error: true }
          : agentReply(line, {
              node: (id) => this.host.projection.nodes.get(id),
              serviceOf: (n) => this.host.weights.serviceOf(n),
              weight: (n) => this.host.weights.weight(n),
            });
      this.stats.record((clock.now() - started) / 1000, error);
      socket.end(`${reply}\n`);
      socket.removeAllListeners('data');
    };
    const deadline = clock.setTimeout(() => answer(buffered === '' ? undefined : buffered), this.options.deadline ?? 2000);
    socket.on('close', () => {
      this.sockets.delete(socket);
      clock.clearTimeout(settle);
      clock.clearTimeout(deadline);
    });
    socket.on('error', () => {}); // 'close' follows
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      if (done) return;
      buffered += chunk;
      const nl = buffered.indexOf('\n');
      if (nl >= 0) return answer(buffered.slice(0, nl + 1));
      if (buffered.length > AGENT_MAX_LINE) return answer(undefined);
      clock.clearTimeout(settle);
      settle = clock.setTimeout(() => answer(buffered), this.options.settle ?? 50);
    });
  }

  /** Stops listening and closes every connection. */
  close(): Promise<void> {
    const server = this.server;
    for (const s of this.sockets) s.destroy();
    return new Promise<void>((resolve) => (server?.listening ? server.close(() => resolve()) : resolve()));
  }
}
