/**
 * CPU profiles of a measurement window only (not of start-up or table filling): the
 * parent calls `profStart` at the start of the window and `profStop` at its end; the
 * profile is written as `<dir>/<name>.cpuprofile`, the format `node --cpu-prof` writes.
 *
 * Note for reading them on a small machine: V8 samples on a wall-clock timer, so a
 * native call that wakes another thread or process (a socket write waking the peer, a
 * LevelDB batch waking the thread pool) is charged for the time this thread then spends
 * preempted. Compare with the process CPU figures before trusting a native frame's share.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';

export function windowProfiler(dir: string | undefined): Record<string, (arg: never) => unknown> {
  let session: Session | undefined;
  let name = 'window';
  return {
    profStart: async (arg: { name: string }) => {
      if (!dir) return { profiling: false };
      name = arg.name;
      session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 500 });
      await session.post('Profiler.start');
      return { profiling: true };
    },
    profStop: async () => {
      if (!dir || !session) return { file: null };
      const { profile } = await session.post('Profiler.stop');
      session.disconnect();
      session = undefined;
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `${name}.cpuprofile`);
      writeFileSync(file, JSON.stringify(profile));
      return { file };
    },
  };
}
