/**
 * The README's quick start, as a new user types it (issue 12 item 10): after `npm install`
 * in a clone, the command its examples run answers at once. `npx loadledger` did not: npm
 * exec treats a package's own bin as a package to install, so it copied the clone into its
 * cache and ran `prepare` (tsc) again, 8–15 s with no output, and with no network and an
 * empty cache it failed. Checked by behaviour, not speed: the command runs with an empty
 * npm cache, offline, and must neither fail nor put anything in that cache.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Cleanup } from '../helpers/cleanup.js';
import { MAIN, ROOT } from '../helpers/cli.js';

const cleanup = new Cleanup();
afterAll(() => cleanup.run());

/** The first command of the quick start that runs loadledger, up to its subcommand (`npx loadledger`, `./loadledger`). */
function quickStartCommand(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const start = readme.slice(readme.indexOf('## Quick start'));
  for (const block of start.matchAll(/^```sh\n([\s\S]*?)^```/gm)) {
    for (const line of block[1]!.split('\n')) {
      const m = /^(.*?\bloadledger)\s+(slave|query|master|replay)\b/.exec(line.replace(/#.*$/, ''));
      if (m) return m[1]!.trim();
    }
  }
  throw new Error('no loadledger command in the README quick start');
}

function run(command: string, env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('sh', ['-c', command], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('the README quick start', () => {
  it('runs the clone’s build with no install, no network and an empty npm cache', async () => {
    expect(existsSync(MAIN), 'build first (npm run build)').toBe(true);
    const command = quickStartCommand();
    const cache = await cleanup.tempDir('loadledger-npm-cache-');
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = await run(`${command} --version`, {
      npm_config_cache: cache,
      npm_config_offline: 'true',
      npm_config_update_notifier: 'false',
    });
    expect(r.code, `${command} --version: ${r.stderr}`).toBe(0);
    expect(r.stdout.trim()).toBe(version);
    // nothing installed into npm's cache (npx's self-install writes _npx/<hash>/)
    expect(readdirSync(cache), `${command} installed into the npm cache`).toEqual([]);
  });
});
