import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Worker-thread and Redis suites start real threads and servers: give them room, and run
    // files one at a time so that stress tests do not fight each other for this machine's cores.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    fileParallelism: false,
    pool: 'forks',
    globalSetup: [],
  },
});
