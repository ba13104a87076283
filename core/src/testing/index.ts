/**
 * @plakar/core/testing — the conformance suites every connector runs from its own tests, and the
 * helpers they are built on. Import it from vitest test files only (vitest is a peer dependency):
 *
 * ```ts
 * import {testStorage, testImporter, testExporter} from '@plakar/core/testing'
 * ```
 *
 * Each suite registers a `describe` block of `it` tests; call it at the top level of a test file.
 */
export {testStorage, type StorageFixture, type StorageSuiteOptions} from './storage.js'
export type {SetupContext} from './common.js'
export {collect, digestStream, mapLimit, pseudoRandomBytes, pseudoRandomDigest, pseudoRandomStream, randomId, type StreamOptions} from './data.js'
