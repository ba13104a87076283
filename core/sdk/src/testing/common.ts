import {expect} from 'vitest'
import {isNotFound} from '../errors.js'

/** What every suite's `setup` receives. */
export interface SetupContext {
  /** The title of the test the fixture is for: handy to name a bucket prefix or a temp dir. */
  testName: string
}

export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as {code?: unknown}).code
    return `${error.name}${code !== undefined ? ` (${String(code)})` : ''}: ${error.message}`
  }
  return String(error)
}

/** Runs `fn` and returns what it threw, or fails the test if it did not throw. */
export async function expectFailure(what: string, fn: () => Promise<unknown>): Promise<unknown> {
  let threw = false
  let error: unknown
  try {
    await fn()
  } catch (caught) {
    threw = true
    error = caught
  }
  expect(threw, `${what} should fail`).toBe(true)
  return error
}

/** Runs `fn` and checks it fails with an error that the SDK's isNotFound() recognises. */
export async function expectNotFound(what: string, fn: () => Promise<unknown>): Promise<void> {
  const error = await expectFailure(what, fn)
  expect(isNotFound(error), `${what} should fail with a not-found error (isNotFound), got ${describeError(error)}`).toBe(true)
}

/**
 * Runs a test body between a fixture's creation and its disposal. Disposal errors are reported
 * when the body succeeded and swallowed (so the body's own failure shows) when it did not.
 */
export async function withFixture<F>(
  create: () => Promise<F>,
  dispose: (fixture: F) => Promise<void>,
  body: (fixture: F) => Promise<void>,
): Promise<void> {
  const fixture = await create()
  let failed = true
  try {
    await body(fixture)
    failed = false
  } finally {
    if (failed) await dispose(fixture).catch(() => {})
    else await dispose(fixture)
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

export const MiB = 1024 * 1024
