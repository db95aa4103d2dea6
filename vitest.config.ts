import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests use real sockets and LevelDB; each cleans up after itself.
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
  },
});
