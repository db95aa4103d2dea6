import { defineConfig } from 'vitest/config';

const CRASH = 'test/master/crash.int.test.ts';

export default defineConfig({
  test: {
    // Integration tests use real sockets and LevelDB; each cleans up after itself.
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'tests', include: ['test/**/*.test.ts'], exclude: [CRASH] } },
      // The crash test saturates a master with closed-loop slaves: it runs alone, after the
      // others, so that its CPU does not stretch their short liveness deadlines (nor theirs its own).
      { extends: true, test: { name: 'crash', include: [CRASH], sequence: { groupOrder: 1 } } },
    ],
  },
});
