import { defineConfig } from 'vitest/config';

/**
 * Three tiers, one project each, so `--project` picks a tier (package.json scripts):
 * - unit: in memory, no sockets or files (`*.unit.test.ts`);
 * - int: a master (or slave) in the test process on real loopback sockets and LevelDB in
 *   temp dirs, timing driven by a manual clock where it matters (`*.int.test.ts`, and any
 *   test file that names no tier);
 * - e2e: the built CLI in child processes (`test/e2e/`), real time, generous bounds.
 *
 * Tests that flood a master or saturate one with kill -9 cycles run alone, after the others
 * and one after another (int:<name>), so that no other test's CPU lands in their
 * measurements (2 cores) nor theirs in others' liveness deadlines.
 */
const ALONE = [
  'test/master/flood.int.test.ts',
  'test/master/idle.int.test.ts',
  'test/master/write-backlog.int.test.ts',
  'test/master/crash.int.test.ts',
  'test/http/deaf-followers.int.test.ts',
];

export default defineConfig({
  test: {
    // Integration tests use real sockets and LevelDB; each cleans up after itself.
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
    // Two test files at a time. Vitest's default is one per CPU less one: on the 2-core
    // machine that is a single worker, and the suite ran one file after another while it
    // used about half a core (most tests wait on sockets, child processes and LevelDB). The
    // ALONE projects still run alone: each is a group of its own, one file, after the rest.
    maxWorkers: 2,
    projects: [
      // Unit files share their worker's module cache (isolate: false): they hold no sockets,
      // timers or module state between files (fake timers and stubbed env are restored in
      // afterEach), and importing the CLI, commander, fast-check and typescript once per
      // worker instead of once per file halves the tier's CPU (unit tier 22 s → 11 s on a busy
      // 2-core machine; checked with --sequence.shuffle on one worker).
      { extends: true, test: { name: 'unit', include: ['test/**/*.unit.test.ts'], isolate: false } },
      {
        extends: true,
        test: { name: 'int', include: ['test/**/*.test.ts'], exclude: ['test/**/*.unit.test.ts', 'test/e2e/**', ...ALONE] },
      },
      // real processes and real time: deadlines a busy machine cannot reach (they cost nothing when tests pass)
      { extends: true, test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], testTimeout: 90_000, hookTimeout: 60_000 } },
      ...ALONE.map((file, i) => ({
        extends: true as const,
        test: {
          name: `int:${file.replace(/^test\/(master|http)\/|\.int\.test\.ts$/g, '')}`,
          include: [file],
          sequence: { groupOrder: i + 1 },
        },
      })),
    ],
  },
});
