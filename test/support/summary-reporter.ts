import type {Reporter, TestModule} from 'vitest/node'

/**
 * Prints the closing line CI reads: "N passed, N failed, N skipped". A test file that fails to
 * load and an unhandled error each count as a failure, so a broken suite never reads as green.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    let passed = 0
    let failed = 0
    let skipped = 0
    for (const mod of modules) {
      let tests = 0
      for (const test of mod.children.allTests()) {
        tests++
        const state = test.result().state
        if (state === 'passed') passed++
        else if (state === 'failed') failed++
        else skipped++
      }
      if (tests === 0 && (mod.state() === 'failed' || mod.errors().length > 0)) failed++
    }
    failed += unhandledErrors.length
    process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`)
  }
}
