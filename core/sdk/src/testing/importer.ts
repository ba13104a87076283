import type {Readable} from 'node:stream'
import {describe, expect, it} from 'vitest'
import {isScanError} from '../contract.js'
import type {Importer, ImportRecord, ScanError, ScanOptions} from '../interfaces/importer.js'
import {describeError, MiB, withFixture, type SetupContext} from './common.js'
import {digestStream} from './data.js'
import {fixtureContent, fixtureSize, oddFileNames, type Fixture, type FixtureEntry, type FixtureFile} from './fixture.js'

/** What an importer suite's `setup` returns: an importer over the materialised fixture. */
export interface ImporterFixture {
  importer: Importer
  /** Removes the materialised source (temp dir, bucket prefix…). Called after `importer.close()`. */
  cleanup?: () => Promise<void>
}

/**
 * What the source can represent. The defaults are a POSIX filesystem's (everything true);
 * a source without some feature says so, and the suite leaves that feature out of its fixtures
 * and checks.
 */
export interface ImporterCapabilities {
  /**
   * The source has real directories: every fixture directory, empty ones included, comes back as
   * a `directory` record, and `skip()` is asked about directories before the importer descends
   * into them. When false (an S3 bucket), fixtures hold no empty directories, directory records
   * are optional (the engine makes up missing ones) and may be synthesised for any ancestor.
   */
  directories?: boolean
  /** Symlinks exist and come back as `symlink` records with their target verbatim. */
  symlinks?: boolean
  /** Records carry the permission bits of the source (`info.mode`). */
  mode?: boolean
  /** Records carry the modification time the fixture set (`info.mtime`, to the second). */
  mtime?: boolean
  /**
   * The source can hold items the importer cannot read (fs: mode 000 for a non-root user).
   * When true, the suite checks that such an item becomes a ScanError (or, for a file, a record
   * whose `open()` fails) and that the scan goes on.
   */
  unreadable?: boolean
  /** Names may contain a newline. */
  newlineInNames?: boolean
}

export interface ImporterSuiteOptions extends ImporterCapabilities {
  /** Size of the file of the large-file test. Default 64 MiB. */
  largeFileSize?: number
  /** Timeout of each ordinary test, in ms. Default 60 s. */
  timeout?: number
  /** Timeout of the large-file test, in ms. Default 10 min. */
  slowTimeout?: number
}

const DEFAULTS: Required<ImporterSuiteOptions> = {
  directories: true,
  symlinks: true,
  mode: true,
  mtime: true,
  unreadable: true,
  newlineInNames: true,
  largeFileSize: 64 * MiB,
  timeout: 60_000,
  slowTimeout: 600_000,
}

/** Importers a test closed itself: disposal does not close them again. */
const closedByTest = new WeakSet<Importer>()

const T0 = Date.UTC(2021, 4, 17, 9, 30, 0)

/** The record path of a fixture path, for an importer rooted at `root`. */
export function recordPath(root: string, path: string): string {
  return root === '/' ? `/${path}` : `${root}/${path}`
}

function file(path: string, content: string | Uint8Array, extra: Partial<FixtureFile> = {}): FixtureFile {
  return {type: 'file', path, content, ...extra}
}

function dir(path: string, extra: {mode?: number; mtime?: number; unreadable?: boolean} = {}): FixtureEntry {
  return {type: 'directory', path, ...extra}
}

interface ScanResult {
  records: ImportRecord[]
  errors: ScanError[]
  byPath: Map<string, ImportRecord>
}

async function scanAll(importer: Importer, skip?: ScanOptions['skip']): Promise<ScanResult> {
  const records: ImportRecord[] = []
  const errors: ScanError[] = []
  const controller = new AbortController()
  for await (const item of importer.scan({signal: controller.signal, ...(skip ? {skip} : {})})) {
    if (isScanError(item)) errors.push(item)
    else records.push(item)
  }
  const byPath = new Map<string, ImportRecord>()
  for (const record of records) {
    expect(byPath.has(record.path), `${JSON.stringify(record.path)} was yielded more than once`).toBe(false)
    byPath.set(record.path, record)
  }
  return {records, errors, byPath}
}

/** Rules every yielded path follows: absolute, normalised, under the importer's root. */
function checkPath(importer: Importer, path: string): void {
  const shown = JSON.stringify(path)
  expect(path.startsWith('/'), `${shown} must be absolute`).toBe(true)
  if (path !== '/') expect(path.endsWith('/'), `${shown} must not end with '/'`).toBe(false)
  const parts = path.split('/').slice(1)
  if (path !== '/') expect(parts.every((p) => p !== '' && p !== '.' && p !== '..'), `${shown} must be normalised (no '', '.' or '..' components)`).toBe(true)
  const root = importer.root
  expect(path === root || path.startsWith(root === '/' ? '/' : `${root}/`), `${shown} must lie under the importer's root ${JSON.stringify(root)}`).toBe(true)
}

async function readRecord(record: ImportRecord): Promise<{size: number; sha256: string}> {
  expect(typeof record.open, `file record ${JSON.stringify(record.path)} must have open()`).toBe('function')
  const stream: Readable = await record.open!()
  return digestStream(stream)
}

async function expectContent(record: ImportRecord, entry: FixtureFile): Promise<void> {
  const got = await readRecord(record)
  const want = await digestStream(fixtureContent(entry))
  expect(got.size, `bytes read from ${JSON.stringify(entry.path)}`).toBe(want.size)
  expect(got.sha256, `content of ${JSON.stringify(entry.path)}`).toBe(want.sha256)
}

/**
 * The importer conformance suite. `setup(fixture)` materialises the fixture in the source (files
 * in a temp dir for fs, objects under a bucket prefix for S3…) and returns an importer whose root
 * is the fixture's root:
 *
 * ```ts
 * import {materializeFixture, testImporter} from '@plakar/sdk/testing'
 *
 * testImporter('my-importer', async (fixture) => {
 *   const dir = await mkdtemp(join(tmpdir(), 'src-'))
 *   await materializeFixture(fixture, dir)      // or upload each entry with fixtureContent(entry)
 *   return {importer: new MyImporter(dir), cleanup: () => rm(dir, {recursive: true, force: true})}
 * }, {symlinks: false, mode: false, mtime: false, unreadable: false})
 * ```
 *
 * A fixture entry at path `a/b` must come back as a record at `importer.root + '/a/b'`. Besides
 * fixture entries, the importer may yield a record for its root itself (and, when `directories`
 * is false, directory records for ancestors of entries); anything else is an error.
 *
 * What it checks: `type`, `origin`, `root`; every entry yielded once with the right type, size
 * and symlink target; paths absolute, normalised and under the root; content read through
 * `open()` matches exactly; modes and mtimes (when the source keeps them); empty files and
 * directories; odd names (spaces, unicode in NFC and NFD, `#`, `%`, `?`, `*`, `\`, quotes,
 * control characters, a newline where supported, a 200-byte name); `skip()` prunes a directory
 * (the importer never descends into it) and leaves out a file; an unreadable item becomes a
 * ScanError and the scan goes on (capability `unreadable`); a large file (64 MiB by default)
 * streamed; a scan stopped early (`break`) ends cleanly; `close()`.
 *
 * @param name shown in the suite's title: "importer conformance: <name>"
 * @param setup materialises a fixture and returns an importer over it; see {@link ImporterFixture}
 * @param options what the source can represent (see {@link ImporterCapabilities}) and sizes
 */
export function testImporter(
  name: string,
  setup: (fixture: Fixture, context: SetupContext) => Promise<ImporterFixture>,
  options: ImporterSuiteOptions = {},
): void {
  const o = {...DEFAULTS, ...options}

  /** Keeps directories out of fixtures of sources without them, except as ancestors. */
  const adapt = (entries: FixtureEntry[]): Fixture => {
    const kept = entries.filter((e) => (o.symlinks || e.type !== 'symlink'))
    if (o.directories) return {entries: kept}
    return {entries: kept.filter((e) => e.type !== 'directory' || kept.some((c) => c.path.startsWith(`${e.path}/`)))}
  }

  const run = (
    title: string,
    entries: FixtureEntry[],
    body: (importer: Importer, fixture: Fixture) => Promise<void>,
    settings: {slow?: boolean} = {},
  ) =>
    it(title, {timeout: settings.slow ? o.slowTimeout : o.timeout}, async () => {
      const fixture = adapt(entries)
      await withFixture(
        () => setup(fixture, {testName: title}),
        async (f) => {
          if (!closedByTest.has(f.importer)) await f.importer.close()
          await f.cleanup?.()
        },
        async ({importer}) => body(importer, fixture),
      )
    })

  /**
   * Checks that the scan yielded exactly the fixture (plus the root and, without real
   * directories, synthesised ancestors), each with the right type, size and target.
   */
  const checkTree = (importer: Importer, fixture: Fixture, result: ScanResult, ignore: (e: FixtureEntry) => boolean = () => false) => {
    expect(result.errors.map((e) => `${e.path}: ${e.error}`), 'scan errors').toEqual([])
    const wanted = new Map(fixture.entries.filter((e) => !ignore(e)).map((e) => [recordPath(importer.root, e.path), e]))
    for (const record of result.records) {
      checkPath(importer, record.path)
      if (record.path === importer.root) {
        expect(record.info.type, `the root record ${JSON.stringify(record.path)}`).toBe('directory')
        continue
      }
      const entry = wanted.get(record.path)
      if (!entry) {
        const isAncestor = [...wanted.keys()].some((p) => p.startsWith(`${record.path}/`))
        expect(
          !o.directories && record.info.type === 'directory' && isAncestor,
          `unexpected record ${JSON.stringify(record.path)} (${record.info.type}) — not in the fixture`,
        ).toBe(true)
        continue
      }
      expect(record.info.type, `type of ${JSON.stringify(entry.path)}`).toBe(entry.type)
      if (entry.type === 'file') expect(record.info.size, `size of ${JSON.stringify(entry.path)}`).toBe(fixtureSize(entry))
      else expect(record.info.size, `size of non-file ${JSON.stringify(entry.path)} (0 for anything but files)`).toBe(0)
      if (entry.type === 'symlink') expect(record.target, `target of symlink ${JSON.stringify(entry.path)}`).toBe(entry.target)
    }
    const missing = [...wanted].filter(([path, e]) => (o.directories || e.type !== 'directory') && !result.byPath.has(path)).map(([, e]) => e.path)
    expect(missing, 'fixture entries the scan did not yield').toEqual([])
  }

  const tree: FixtureEntry[] = [
    dir('docs'),
    file('docs/readme.txt', 'hello, plakar\n'),
    file('docs/notes.md', '# notes\n\n- one\n- two\n'),
    dir('docs/deep'),
    dir('docs/deep/er'),
    dir('docs/deep/er/still'),
    file('docs/deep/er/still/leaf.bin', Buffer.from(Array.from({length: 70_001}, (_, i) => (i * 7) & 0xff))),
    dir('src'),
    file('src/a.ts', 'export const a = 1\n'),
    file('src/b.ts', 'export const b = 2\n'),
    {type: 'file', path: 'src/medium.bin', size: 3 * MiB + 17, seed: 'medium'},
    dir('empty-dir'),
    file('empty-file', ''),
    file('top.txt', 'top level\n'),
    {type: 'symlink', path: 'link-to-readme', target: 'docs/readme.txt'},
    {type: 'symlink', path: 'dangling', target: '../nowhere/at/all'},
    {type: 'symlink', path: 'src/absolute-link', target: '/etc/hostname'},
  ]

  describe(`importer conformance: ${name}`, () => {
    run('type, origin and root describe the importer', [file('x.txt', 'x')], async (importer) => {
      expect(typeof importer.type, 'importer.type').toBe('string')
      expect(importer.type.length, 'importer.type is not empty').toBeGreaterThan(0)
      expect(typeof importer.origin, 'importer.origin').toBe('string')
      expect(typeof importer.root, 'importer.root').toBe('string')
      expect(importer.root.startsWith('/'), `importer.root ${JSON.stringify(importer.root)} is absolute`).toBe(true)
      expect(importer.root === '/' || !importer.root.endsWith('/'), `importer.root ${JSON.stringify(importer.root)} has no trailing '/'`).toBe(true)
    })

    run('every entry is yielded once, with its type, size and symlink target', tree, async (importer, fixture) => {
      checkTree(importer, fixture, await scanAll(importer))
    })

    run('content read through open() matches exactly', tree, async (importer, fixture) => {
      const {byPath} = await scanAll(importer)
      for (const entry of fixture.entries) {
        if (entry.type !== 'file') continue
        const record = byPath.get(recordPath(importer.root, entry.path))
        expect(record, `record of ${entry.path}`).toBeDefined()
        await expectContent(record!, entry)
      }
    })

    run(
      'empty files and empty directories',
      [file('empty-1', ''), dir('hollow'), dir('hollow/inner'), file('hollow/inner/empty-2', new Uint8Array(0)), dir('bare'), file('one-byte', 'x')],
      async (importer, fixture) => {
        const result = await scanAll(importer)
        checkTree(importer, fixture, result)
        for (const path of ['empty-1', 'hollow/inner/empty-2']) {
          const record = result.byPath.get(recordPath(importer.root, path))!
          expect(await readRecord(record), `content of empty file ${path}`).toEqual(await digestStream(fixtureContent(file(path, ''))))
        }
      },
    )

    const oddNames = oddFileNames({newline: o.newlineInNames})
    run(
      'odd names survive: spaces, unicode, #, %, quotes, control characters',
      [
        ...oddNames.map((n) => file(n, `content of ${n}`)),
        dir('dir with spaces & #hash'),
        ...oddNames.slice(0, 6).map((n) => file(`dir with spaces & #hash/${n}`, `inner ${n}`)),
      ],
      async (importer, fixture) => {
        const result = await scanAll(importer)
        checkTree(importer, fixture, result)
        for (const entry of fixture.entries) {
          if (entry.type === 'file') await expectContent(result.byPath.get(recordPath(importer.root, entry.path))!, entry)
        }
      },
    )

    if (o.mode || o.mtime) {
      run(
        'modes and mtimes are reported',
        [
          dir('d', {mode: 0o750, mtime: T0}),
          file('d/private', 'secret', {mode: 0o600, mtime: T0 + 1000}),
          file('d/script.sh', '#!/bin/sh\n', {mode: 0o755, mtime: T0 + 2000}),
          file('public.txt', 'public', {mode: 0o644, mtime: T0 + 3000}),
          file('readonly.txt', 'ro', {mode: 0o444, mtime: T0 - 86_400_000}),
          {type: 'symlink', path: 'link', target: 'public.txt', mtime: T0 + 4000},
        ],
        async (importer, fixture) => {
          const result = await scanAll(importer)
          checkTree(importer, fixture, result)
          for (const entry of fixture.entries) {
            const record = result.byPath.get(recordPath(importer.root, entry.path))
            if (!record) continue // directories of a source without them
            if (o.mode && entry.type !== 'symlink' && entry.mode !== undefined) {
              expect((record.info.mode ?? -1).toString(8), `mode of ${entry.path}`).toBe(entry.mode.toString(8))
            }
            if (o.mtime && entry.mtime !== undefined) {
              expect(record.info.mtime, `mtime of ${entry.path}`).toBeDefined()
              expect(Math.floor(record.info.mtime! / 1000) * 1000, `mtime of ${entry.path} (to the second)`).toBe(entry.mtime)
            }
          }
        },
      )
    }

    run(
      'skip() prunes a directory and leaves out a file',
      [
        dir('keep'),
        file('keep/a.txt', 'a'),
        dir('skipme'),
        file('skipme/b.txt', 'b'),
        dir('skipme/inner'),
        file('skipme/inner/deep.txt', 'deep'),
        file('skipfile.txt', 'skipped'),
        file('keep2.txt', 'kept'),
      ],
      async (importer, fixture) => {
        const skipped = recordPath(importer.root, 'skipme')
        const skippedFile = recordPath(importer.root, 'skipfile.txt')
        const asked: [string, boolean][] = []
        const skip = (path: string, isDirectory: boolean) => {
          asked.push([path, isDirectory])
          return path === skipped || path.startsWith(`${skipped}/`) || path === skippedFile
        }
        const result = await scanAll(importer, skip)
        checkTree(importer, fixture, result, (e) => e.path === 'skipfile.txt' || e.path === 'skipme' || e.path.startsWith('skipme/'))
        if (o.directories) {
          expect(asked, 'skip() must be asked about the directory').toContainEqual([skipped, true])
          const below = asked.filter(([p]) => p.startsWith(`${skipped}/`)).map(([p]) => p)
          expect(below, 'the importer must not descend into a skipped directory').toEqual([])
        }
      },
    )

    if (o.unreadable) {
      run(
        'an unreadable item becomes a ScanError and the scan goes on',
        [
          file('a-before.txt', 'before'),
          dir('locked', {unreadable: true}),
          file('locked/secret.txt', 'secret'),
          file('noperm.txt', 'no permission', {unreadable: true}),
          dir('zz-after'),
          file('zz-after/file.txt', 'after'),
        ],
        async (importer, fixture) => {
          const result = await scanAll(importer)
          const locked = recordPath(importer.root, 'locked')
          const noperm = recordPath(importer.root, 'noperm.txt')
          for (const error of result.errors) {
            checkPath(importer, error.path)
            expect(typeof error.error === 'string' && error.error.length > 0, `ScanError of ${error.path} has a message`).toBe(true)
          }
          expect(
            result.errors.some((e) => e.path === locked || e.path.startsWith(`${locked}/`)),
            `a ScanError for the unreadable directory ${locked} (got ${JSON.stringify(result.errors)})`,
          ).toBe(true)
          expect(result.byPath.has(recordPath(importer.root, 'locked/secret.txt')), 'a file inside an unreadable directory cannot be yielded').toBe(false)
          // An unreadable file: a ScanError, or a record whose open() fails.
          if (!result.errors.some((e) => e.path === noperm)) {
            const record = result.byPath.get(noperm)
            expect(record, `${noperm}: neither a ScanError nor a record`).toBeDefined()
            let failure: unknown
            try {
              await readRecord(record!)
            } catch (error) {
              failure = error
            }
            expect(failure, `reading the unreadable file ${noperm} should fail`).toBeDefined()
            expect(describeError(failure)).toBeTruthy()
          }
          // Everything readable was still yielded, and reads.
          for (const entry of fixture.entries) {
            if (entry.path.startsWith('locked') || entry.path === 'noperm.txt') continue
            const record = result.byPath.get(recordPath(importer.root, entry.path))
            if (entry.type === 'directory' && !o.directories) continue
            expect(record, `${entry.path} must still be yielded`).toBeDefined()
            if (entry.type === 'file') await expectContent(record!, entry)
          }
        },
      )
    }

    run(
      `a large file (${o.largeFileSize} bytes) is streamed`,
      [file('small-before', 'x'), {type: 'file', path: 'large.bin', size: o.largeFileSize, seed: 'large-file'}],
      async (importer, fixture) => {
        const result = await scanAll(importer)
        checkTree(importer, fixture, result)
        const record = result.byPath.get(recordPath(importer.root, 'large.bin'))!
        await expectContent(record, fixture.entries.find((e) => e.path === 'large.bin') as FixtureFile)
      },
      {slow: true},
    )

    run(
      'a scan stopped early (break) ends cleanly',
      [dir('many'), ...Array.from({length: 120}, (_, i) => file(`many/f${i}`, `file ${i}`))],
      async (importer) => {
        let seen = 0
        for await (const item of importer.scan({signal: new AbortController().signal})) {
          expect(isScanError(item), 'no scan error expected').toBe(false)
          if (++seen === 3) break
        }
        expect(seen).toBe(3)
        // The importer is still usable: a new scan sees everything.
        const result = await scanAll(importer)
        expect(result.records.filter((r) => r.info.type === 'file').length, 'files of a full scan after a stopped one').toBe(120)
      },
    )

    run('close() resolves', [file('x.txt', 'x')], async (importer) => {
      await scanAll(importer)
      closedByTest.add(importer)
      await importer.close()
    })
  })
}
