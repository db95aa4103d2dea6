import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Resources a test opened, closed in reverse order (LIFO): a client registered after its
 * master is closed before it. Use one per test file with `afterEach(() => cleanup.run())`.
 */
export class Cleanup {
  private readonly stack: Array<{ what: string; fn: () => unknown }> = [];

  /** Registers `fn` to run at cleanup; returns `value` for chaining. */
  defer(what: string, fn: () => unknown): void {
    this.stack.push({ what, fn });
  }

  /** Runs every registered cleanup, newest first; reports all failures at the end. */
  async run(): Promise<void> {
    const errors: string[] = [];
    while (this.stack.length > 0) {
      const { what, fn } = this.stack.pop()!;
      try {
        await fn();
      } catch (e) {
        errors.push(`${what}: ${(e as Error)?.message ?? String(e)}`);
      }
    }
    if (errors.length > 0) throw new Error(`cleanup failed: ${errors.join('; ')}`);
  }

  /** A fresh directory under the OS temp dir, removed at cleanup. */
  async tempDir(prefix = 'loadledger-test-'): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), prefix));
    this.defer(`rm ${dir}`, () => rm(dir, { recursive: true, force: true }));
    return dir;
  }
}
