import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    include: ['core/*/test/**/*.test.ts', 'lib/*/test/**/*.test.ts', 'plugins/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['**/node_modules/**', 'test/bench/**'],
    // End-to-end tests run the built CLI in child processes: forks isolate them best.
    pool: 'forks',
    maxWorkers: 2,
    // A hang detector, not a deadline: an end-to-end test runs the CLI a dozen times or more,
    // and on a loaded machine (load 12 on 2 cores) two such tests took longer than 120 s.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
    globalSetup: ['./test/support/global-setup.ts'],
  },
})
