/**
 * A real component a test file needs (a Debian package's binary: etcd, haproxy, …): where
 * its binary is, and the one rule for when it is missing — the file is skipped with one
 * line saying what to install, except under CI=true, where a missing component fails the
 * run (.ci/run installs them).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface Component {
  /** The binary's path, or undefined when it is not installed. */
  readonly bin: string | undefined;
  /** The one line a skipped test file says. */
  readonly install: string;
  /** Call at the top of a test file: true to run; false (with the one line) to skip; throws under CI. */
  available(): boolean;
}

/**
 * @param command the binary's name, looked for at `paths` first, then on PATH
 * @param pkg the Debian package that has it
 * @param tests what is skipped without it ("HA tests")
 */
export function component(command: string, paths: readonly string[], pkg: string, tests: string): Component {
  const bin = paths.find((p) => existsSync(p)) ?? onPath(command);
  const install = `${tests} skipped: no ${command} binary; install ${pkg} (apt-get install ${pkg})`;
  return {
    bin,
    install,
    available(): boolean {
      if (bin !== undefined) return true;
      if (process.env.CI === 'true') throw new Error(`CI=true but ${command} is missing: .ci/run installs ${pkg}`);
      console.warn(install);
      return false;
    },
  };
}

function onPath(command: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  const found = r.stdout.trim();
  return r.status === 0 && found !== '' ? found : undefined;
}
