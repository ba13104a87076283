import {defineConfig} from 'vitest/config'

/** Runs the glacier browsing figure (test/bench/glacier-browse.test.ts) on its own: not part of npm test. */
export default defineConfig({
  test: {
    include: ['test/bench/glacier-browse.test.ts'],
    pool: 'forks',
    maxWorkers: 1,
    testTimeout: 3 * 3_600_000,
    hookTimeout: 3 * 3_600_000,
    globalSetup: ['./test/support/global-setup.ts'],
  },
})
