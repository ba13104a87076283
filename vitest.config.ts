import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    include: ['core/*/test/**/*.test.ts', 'lib/*/test/**/*.test.ts', 'plugins/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['**/node_modules/**', 'test/bench/**'],
    // End-to-end tests run the built CLI in child processes: forks isolate them best.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 300_000,
    reporters: ['default', './test/support/summary-reporter.ts'],
    globalSetup: ['./test/support/global-setup.ts'],
  },
})
