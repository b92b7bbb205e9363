import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Tests in test/ start real servers on loopback; give them room on a shared 2-core machine.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Three files at a time on 2 cores (vitest's default there is one): most of a test's time is
    // spent waiting on sockets, timers and child processes, not on CPU (a whole run keeps about 1.2
    // of the 2 cores busy with two at a time). Four overloaded the machine.
    maxWorkers: 3,
    reporters: ['default', './scripts/vitest-summary-reporter.ts'],
  },
});
