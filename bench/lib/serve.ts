/**
 * Child side of bench/lib/rpc.ts: answers the parent's calls with `handlers`, exits after
 * `stop` (normally, so that --cpu-prof writes its profile) or when the parent goes away.
 */
export type Handler = (arg: never) => unknown;

export function serve(handlers: Record<string, Handler>, info: unknown = {}): void {
  const send = process.send?.bind(process);
  if (!send) throw new Error('this script is a bench worker: start it through bench/run.ts');
  process.on('message', (m: { id: number; cmd: string; arg: unknown }) => {
    void (async () => {
      try {
        const h = handlers[m.cmd];
        if (!h) throw new Error(`unknown command ${m.cmd}`);
        const result = await (h as (a: unknown) => unknown)(m.arg);
        if (m.cmd === 'stop') send({ id: m.id, ok: true, result }, undefined, {}, () => process.exit(0));
        else send({ id: m.id, ok: true, result });
      } catch (e) {
        send({ id: m.id, ok: false, error: (e as Error).stack ?? String(e) });
      }
    })();
  });
  // The parent died or let go of us: never linger.
  process.on('disconnect', () => process.exit(0));
  if (!handlers['stop']) handlers['stop'] = () => ({});
  send({ ready: true, info });
}

/** CPU time (user+system, ms) since `from`, as a share of one core over `wallMs`. */
export function cpuShare(from: NodeJS.CpuUsage, wallMs: number): number {
  const d = process.cpuUsage(from);
  return wallMs > 0 ? (d.user + d.system) / 1000 / wallMs : 0;
}

/** Native shared objects loaded into this process whose path contains one of `names`. */
export function loadedNative(names: string[]): string[] {
  const report = process.report?.getReport() as unknown as { sharedObjects?: string[] } | undefined;
  return (report?.sharedObjects ?? []).filter((p) => names.some((n) => p.includes(n)));
}
