/**
 * A TCP proxy in the test process between one client (a master) and a server (etcd), that
 * the test cuts and restores: a network partition of that client alone. Cut, it destroys
 * every connection it carries and every new one at once (the client sees resets, as when a
 * firewall rejects); restored, it forwards again.
 */
import { connect, createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Cleanup } from './cleanup.js';

export interface TcpProxy {
  readonly port: number;
  readonly url: string;
  /** Connections forwarded so far. */
  readonly accepted: number;
  cut(): void;
  restore(): void;
}

export async function startTcpProxy(cleanup: Cleanup, target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let cut = false;
  let accepted = 0;
  const server = createServer((inbound) => {
    if (cut) return void inbound.destroy();
    accepted++;
    const outbound = connect(target.port, target.host);
    for (const s of [inbound, outbound]) {
      open.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        open.delete(s);
        inbound.destroy();
        outbound.destroy();
      });
    }
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  cleanup.defer(`tcp proxy ${port}`, () => {
    for (const s of open) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    get accepted() {
      return accepted;
    },
    cut() {
      cut = true;
      for (const s of open) s.destroy();
    },
    restore() {
      cut = false;
    },
  };
}
