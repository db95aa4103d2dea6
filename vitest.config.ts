import { defineConfig } from 'vitest/config';

/**
 * Tests that measure latency or memory of a master under a flood, or saturate one with
 * kill -9 cycles: each runs alone, after the others and one after another, so that no
 * other test's CPU lands in their measurements (2 cores) nor theirs in others' short
 * liveness deadlines.
 */
const ALONE = [
  'test/master/flood.int.test.ts',
  'test/master/idle.int.test.ts',
  'test/master/write-backlog.int.test.ts',
  'test/master/crash.int.test.ts',
];

export default defineConfig({
  test: {
    // Integration tests use real sockets and LevelDB; each cleans up after itself.
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'tests', include: ['test/**/*.test.ts'], exclude: ALONE } },
      ...ALONE.map((file, i) => ({
        extends: true as const,
        test: { name: file.replace(/^test\/master\/|\.int\.test\.ts$/g, ''), include: [file], sequence: { groupOrder: i + 1 } },
      })),
    ],
  },
});
