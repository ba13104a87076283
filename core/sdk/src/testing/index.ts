/**
 * @plakar/sdk/testing — the conformance suites every connector runs from its own tests, and the
 * helpers they are built on. Import it from vitest test files only (vitest is an optional peer
 * dependency of @plakar/sdk):
 *
 * ```ts
 * import {testExporter, testImporter, testStorage} from '@plakar/sdk/testing'
 * ```
 *
 * Each suite registers a `describe` block of `it` tests: call it at the top level of a test file.
 * Each test asks `setup` for a fresh fixture and disposes of it afterwards, so tests are
 * independent and may run in any order. Failures name the rule that was broken.
 *
 * - {@link testStorage}: the Storage contract (where a repository lives).
 * - {@link testImporter}: the Importer contract (a data source), over a {@link Fixture} the setup
 *   materialises ({@link materializeFixture} does it for a local directory).
 * - {@link testExporter}: the Exporter contract (a restore target), read back by the setup.
 */
export {testStorage, type StorageFixture, type StorageSuiteOptions} from './storage.js'
export {recordPath, testImporter, type ImporterCapabilities, type ImporterFixture, type ImporterSuiteOptions} from './importer.js'
export {testExporter, type ExportedEntry, type ExporterCapabilities, type ExporterFixture, type ExporterSuiteOptions} from './exporter.js'
export {
  fixtureContent,
  fixtureSize,
  materializeFixture,
  oddFileNames,
  type Fixture,
  type FixtureDirectory,
  type FixtureEntry,
  type FixtureFile,
  type FixtureSymlink,
} from './fixture.js'
export type {SetupContext} from './common.js'
export {collect, digestStream, mapLimit, pseudoRandomBytes, pseudoRandomDigest, pseudoRandomStream, randomId, type StreamOptions} from './data.js'
