import {Readable} from 'node:stream'
import {describe, expect, it, type TestContext} from 'vitest'
import type {Exporter} from '../interfaces/exporter.js'
import type {FileInfo} from '../interfaces/file-info.js'
import {describeError, expectFailure, MiB, sleep, withFixture, type SetupContext} from './common.js'
import {digestStream, pseudoRandomBytes} from './data.js'
import {fixtureContent, fixtureSize, oddFileNames, type FixtureDirectory, type FixtureEntry, type FixtureFile} from './fixture.js'

/** One thing found under an exporter's root by {@link ExporterFixture.readBack}. */
export interface ExportedEntry {
  /** Relative to the exporter's root, '/'-separated, without a leading '/': "dir/file.txt". */
  path: string
  type: 'file' | 'directory' | 'symlink'
  /** A file's content: its bytes, or a function that opens them as a stream (for large files). */
  content?: Uint8Array | (() => Promise<AsyncIterable<Uint8Array>>)
  /** Permission bits, when the target keeps them. */
  mode?: number
  /** Modification time in ms since the epoch, when the target keeps it. */
  mtime?: number
  /** A symlink's target, verbatim. */
  target?: string
  /** Files with the same `linkId` are one file (hard links); fs: `${dev}:${ino}`. */
  linkId?: string
}

/** What an exporter suite's `setup` returns. */
export interface ExporterFixture {
  /** An exporter over a fresh, empty target. */
  exporter: Exporter
  /** Everything under the exporter's root (the root itself excluded), as it is now. */
  readBack: () => Promise<ExportedEntry[]>
  /**
   * Whatever appeared *beside* the root since setup, in the scope that contains it (fs: the
   * temp dir the root was made in; S3: the bucket outside the prefix). The path-safety tests
   * check that it stays empty. Without it, they can only check that unsafe calls are refused.
   */
  outside?: () => Promise<string[]>
  /** Removes the target. Called after `exporter.close()`. */
  cleanup?: () => Promise<void>
}

/** What the target keeps. The defaults are a POSIX filesystem's (everything true). */
export interface ExporterCapabilities {
  /** Empty directories exist on their own (an S3 bucket has none). */
  directories?: boolean
  /** Permission bits are applied (files and directories). */
  mode?: boolean
  /** Modification times are applied (files, and directories after their children). */
  mtime?: boolean
  symlinks?: boolean
  hardlinks?: boolean
  /** Names may contain a newline. */
  newlineInNames?: boolean
}

export interface ExporterSuiteOptions extends ExporterCapabilities {
  /** Size of the file of the large-file test. Default 64 MiB. */
  largeFileSize?: number
  /** Timeout of each ordinary test, in ms. Default 60 s. */
  timeout?: number
  /** Timeout of the large-file test, in ms. Default 10 min. */
  slowTimeout?: number
}

const DEFAULTS: Required<ExporterSuiteOptions> = {
  directories: true,
  mode: true,
  mtime: true,
  symlinks: true,
  hardlinks: true,
  newlineInNames: true,
  largeFileSize: 64 * MiB,
  timeout: 60_000,
  slowTimeout: 600_000,
}

const T0 = Date.UTC(2020, 1, 29, 12, 0, 0)

/** Exporters a test closed itself: disposal does not close them again. */
const closedByTest = new WeakSet<Exporter>()

function infoOf(entry: FixtureEntry): FileInfo {
  const info: FileInfo = {type: entry.type, size: entry.type === 'file' ? fixtureSize(entry) : 0}
  if (entry.type !== 'symlink' && entry.mode !== undefined) info.mode = entry.mode
  if (entry.mtime !== undefined) info.mtime = entry.mtime
  return info
}

/** Writes entries the way the engine restores: directory, its children, then its metadata. */
async function exportEntries(exporter: Exporter, entries: FixtureEntry[], root: FileInfo = {type: 'directory', size: 0, mode: 0o755}): Promise<void> {
  await exporter.createDirectory('/', root)
  const open: FixtureEntry[] = []
  const close = async () => {
    const entry = open.pop()!
    await exporter.setMetadata(`/${entry.path}`, infoOf(entry))
  }
  for (const entry of entries) {
    while (open.length > 0 && !entry.path.startsWith(`${open.at(-1)!.path}/`)) await close()
    const path = `/${entry.path}`
    if (entry.type === 'directory') {
      await exporter.createDirectory(path, infoOf(entry))
      open.push(entry)
    } else if (entry.type === 'file') {
      await exporter.storeFile(path, fixtureContent(entry), infoOf(entry))
    } else {
      await exporter.createLink(path, entry.target, 'symlink', infoOf(entry))
    }
  }
  while (open.length > 0) await close()
  await exporter.setMetadata('/', root)
}

async function contentOf(entry: ExportedEntry): Promise<{size: number; sha256: string}> {
  expect(entry.content, `read-back content of ${JSON.stringify(entry.path)}`).toBeDefined()
  const content = entry.content!
  if (content instanceof Uint8Array) return digestStream([content])
  return digestStream(await content())
}

function byPath(entries: ExportedEntry[]): Map<string, ExportedEntry> {
  const map = new Map<string, ExportedEntry>()
  for (const entry of entries) {
    expect(map.has(entry.path), `readBack() listed ${JSON.stringify(entry.path)} twice`).toBe(false)
    map.set(entry.path, entry)
  }
  return map
}

/**
 * The exporter conformance suite. `setup()` returns an exporter over a fresh empty target, a
 * `readBack()` that lists what is under the target now, and (recommended) an `outside()` that
 * lists what appeared beside it:
 *
 * ```ts
 * import {testExporter} from '@plakar/sdk/testing'
 *
 * testExporter('my-exporter', async () => {
 *   const bucket = await freshPrefix()
 *   return {
 *     exporter: new MyExporter(bucket.url),
 *     readBack: () => bucket.listEntries(),      // [{path: 'a/b.txt', type: 'file', content: () => bucket.open('a/b.txt')}, …]
 *     outside: () => bucket.listOutsidePrefix(),
 *     cleanup: () => bucket.remove(),
 *   }
 * }, {directories: false, mode: false, mtime: false, symlinks: false, hardlinks: false})
 * ```
 *
 * Calls follow the engine's order: `createDirectory('/')` for the root, each directory before
 * its children, `setMetadata` on a directory after all of them. Paths are '/'-separated,
 * relative to the root, with a leading '/'.
 *
 * What it checks: a tree of directories (empty ones too, when the target has them) and files
 * with exact content; an empty file; a file stored twice (the second, shorter content wins, no
 * stale tail); concurrent `storeFile` calls in one directory; `storeFiles` where the exporter has
 * it (300 files in one call, each whole and in parts, one refused path failing alone, a file
 * replaced, modes and mtimes; skipped without it); modes and mtimes (capabilities),
 * including a directory's mtime and a read-only directory's mode set by `setMetadata` after its
 * children; odd names; symlinks (dangling and absolute targets verbatim) and hard links
 * (capabilities); a failed `storeFile` (its source errors) leaves nothing at that path, nor does
 * one aborted through its signal while its source stalls; a large
 * file (64 MiB by default) streamed; paths with `..` components or a NUL byte refused by every
 * method, and symlinks never followed when writing (a symlink to `..` does not let a later
 * `storeFile`, `createDirectory` or `createLink` below it write outside the root); `close()`.
 *
 * @param name shown in the suite's title: "exporter conformance: <name>"
 * @param setup makes an exporter over a fresh empty target; see {@link ExporterFixture}
 * @param options what the target keeps (see {@link ExporterCapabilities}) and sizes
 */
export function testExporter(name: string, setup: (context: SetupContext) => Promise<ExporterFixture>, options: ExporterSuiteOptions = {}): void {
  const o = {...DEFAULTS, ...options}

  const run = (title: string, body: (f: ExporterFixture, context: TestContext) => Promise<void>, settings: {slow?: boolean} = {}) =>
    it(title, {timeout: settings.slow ? o.slowTimeout : o.timeout}, async (context) => {
      await withFixture(
        () => setup({testName: title}),
        async (f) => {
          if (!closedByTest.has(f.exporter)) await f.exporter.close()
          await f.cleanup?.()
        },
        (f) => body(f, context),
      )
    })

  /** Checks that the target holds exactly `entries` (content, types, targets). */
  const expectTree = async (f: ExporterFixture, entries: FixtureEntry[]) => {
    const found = byPath(await f.readBack())
    const wanted = entries.filter((e) => o.directories || e.type !== 'directory')
    const extra = [...found.keys()].filter((p) => !entries.some((e) => e.path === p))
    expect(extra, 'entries under the root that were never exported').toEqual([])
    for (const entry of wanted) {
      const got = found.get(entry.path)
      expect(got, `${JSON.stringify(entry.path)} must be exported`).toBeDefined()
      expect(got!.type, `type of ${JSON.stringify(entry.path)}`).toBe(entry.type)
      if (entry.type === 'file') {
        const want = await digestStream(fixtureContent(entry))
        const have = await contentOf(got!)
        expect(have.size, `size of ${JSON.stringify(entry.path)}`).toBe(want.size)
        expect(have.sha256, `content of ${JSON.stringify(entry.path)}`).toBe(want.sha256)
      }
      if (entry.type === 'symlink') expect(got!.target, `target of ${JSON.stringify(entry.path)}`).toBe(entry.target)
    }
    return found
  }

  const expectNothingOutside = async (f: ExporterFixture) => {
    if (f.outside) expect(await f.outside(), 'entries written outside the root').toEqual([])
  }

  const file = (path: string, content: string | Uint8Array, extra: Partial<FixtureFile> = {}): FixtureFile => ({type: 'file', path, content, ...extra})
  const dir = (path: string, extra: {mode?: number; mtime?: number} = {}): FixtureEntry => ({type: 'directory', path, ...extra})

  describe(`exporter conformance: ${name}`, () => {
    run('directories and files come out with their exact content', async (f) => {
      const entries: FixtureEntry[] = [
        dir('a'),
        file('a/one.txt', 'one\n'),
        dir('a/b'),
        dir('a/b/c'),
        file('a/b/c/deep.bin', pseudoRandomBytes('deep', 0, 100_003)),
        dir('a/empty'),
        file('empty-file', ''),
        {type: 'file', path: 'medium.bin', size: 5 * MiB + 3, seed: 'medium'},
        file('top.txt', 'top\n'),
      ]
      await exportEntries(f.exporter, entries)
      await expectTree(f, entries)
      await expectNothingOutside(f)
    })

    run('storeFile over an existing file replaces it entirely', async (f) => {
      await f.exporter.createDirectory('/', {type: 'directory', size: 0})
      await f.exporter.storeFile('/file', fixtureContent(file('file', 'a much longer first version\n')), {type: 'file', size: 28})
      await f.exporter.storeFile('/file', fixtureContent(file('file', 'short\n')), {type: 'file', size: 6})
      await f.exporter.setMetadata('/', {type: 'directory', size: 0})
      await expectTree(f, [file('file', 'short\n')])
    })

    run('concurrent storeFile calls into one directory', async (f) => {
      const entries: FixtureEntry[] = [dir('d'), ...Array.from({length: 32}, (_, i) => ({type: 'file', path: `d/f${i}`, size: 20_000 + i, seed: `c${i}`}) as FixtureFile)]
      await f.exporter.createDirectory('/', {type: 'directory', size: 0})
      await f.exporter.createDirectory('/d', infoOf(entries[0]))
      await Promise.all(entries.slice(1).map((e) => f.exporter.storeFile(`/${e.path}`, fixtureContent(e as FixtureFile), infoOf(e))))
      await f.exporter.setMetadata('/d', infoOf(entries[0]))
      await f.exporter.setMetadata('/', {type: 'directory', size: 0})
      await expectTree(f, entries)
    })

    run('storeFiles(), where the exporter has it, stores each file as storeFile would, with one outcome per file', async (f, context) => {
      const {exporter} = f
      // Optional: without it, this test is reported as skipped, not passed.
      if (!exporter.storeFiles) return context.skip('this exporter has no storeFiles()')
      const d: FixtureDirectory = {type: 'directory', path: 'd', mode: 0o750, mtime: T0}
      const files: FixtureFile[] = [
        file('empty', '', {mode: 0o644, mtime: T0}),
        file('d/replaced', 'short\n', {mode: 0o600, mtime: T0 + 1000}),
        ...Array.from({length: 300}, (_, i) => file(`${i % 2 === 0 ? 'd/' : ''}f${i}`, pseudoRandomBytes(`batch${i}`, 0, (i * 37) % 5000), {mode: i % 3 === 0 ? 0o640 : 0o644, mtime: T0 + i * 1000})),
      ]
      await exporter.createDirectory('/', {type: 'directory', size: 0})
      await exporter.createDirectory('/d', infoOf(d))
      // Already there: the batch's file replaces it entirely (no stale tail).
      await exporter.storeFile('/d/replaced', fixtureContent(file('d/replaced', 'a much longer first version\n')), {type: 'file', size: 28})
      const batch = files.map((entry) => {
        const bytes = Buffer.from(entry.content!)
        // In three parts where there are bytes enough: their concatenation is the content.
        const cuts = [0, Math.floor(bytes.length / 3), Math.floor((2 * bytes.length) / 3), bytes.length]
        return {path: `/${entry.path}`, parts: cuts.slice(1).map((end, k) => bytes.subarray(cuts[k], end)), info: infoOf(entry)}
      })
      // A path that would leave the root fails alone, in its place among the others.
      const refused = 150
      batch.splice(refused, 0, {path: '/../escaped-by-batch', parts: [Buffer.from('escaped')], info: {type: 'file', size: 7}})
      const outcomes = await exporter.storeFiles(batch)
      expect(outcomes.length, 'one outcome per file').toBe(batch.length)
      outcomes.forEach((outcome, i) => {
        if (i === refused) expect(outcome, 'the outcome of /../escaped-by-batch').toBeInstanceOf(Error)
        else expect(outcome, `the outcome of ${batch[i].path}`).toBeUndefined()
      })
      await exporter.setMetadata('/d', infoOf(d))
      await exporter.setMetadata('/', {type: 'directory', size: 0})
      const found = await expectTree(f, [d, ...files])
      for (const entry of [d, ...files]) {
        const got = found.get(entry.path)!
        if (o.mode && (entry.type === 'file' || o.directories)) expect((got.mode ?? -1).toString(8), `mode of ${entry.path}`).toBe(entry.mode!.toString(8))
        if (o.mtime && (entry.type === 'file' || o.directories)) expect(Math.floor(got.mtime! / 1000) * 1000, `mtime of ${entry.path}`).toBe(entry.mtime)
      }
      await expectNothingOutside(f)
    })

    if (o.mode || o.mtime) {
      run('modes and mtimes, directories\u2019 applied by setMetadata after their children', async (f) => {
        const entries: FixtureEntry[] = [
          dir('ro', {mode: 0o555, mtime: T0}),
          file('ro/inside.txt', 'written before the directory became read-only', {mode: 0o644, mtime: T0 + 1000}),
          dir('ro/sub', {mode: 0o700, mtime: T0 + 2000}),
          file('ro/sub/x', 'x', {mode: 0o600, mtime: T0 + 3000}),
          dir('plain', {mode: 0o751, mtime: T0 + 4000}),
          file('plain/script.sh', '#!/bin/sh\necho hi\n', {mode: 0o755, mtime: T0 + 5000}),
          file('plain/readonly', 'ro', {mode: 0o444, mtime: T0 - 3_600_000}),
        ]
        await exportEntries(f.exporter, entries)
        const found = await expectTree(f, entries)
        for (const entry of entries) {
          const got = found.get(entry.path)
          if (!got) continue
          if (o.mode && entry.type !== 'symlink' && entry.mode !== undefined && (entry.type === 'file' || o.directories)) {
            expect((got.mode ?? -1).toString(8), `mode of ${entry.path}`).toBe(entry.mode.toString(8))
          }
          if (o.mtime && entry.mtime !== undefined && (entry.type === 'file' || o.directories)) {
            expect(got.mtime, `mtime of ${entry.path}`).toBeDefined()
            expect(Math.floor(got.mtime! / 1000) * 1000, `mtime of ${entry.path} (to the second)`).toBe(entry.mtime)
          }
        }
      })
    }

    run('odd names survive', async (f) => {
      const names = oddFileNames({newline: o.newlineInNames})
      const entries: FixtureEntry[] = [
        ...names.map((n) => file(n, `content of ${n}`)),
        dir('dir with spaces & #hash'),
        ...names.slice(0, 6).map((n) => file(`dir with spaces & #hash/${n}`, `inner ${n}`)),
      ]
      await exportEntries(f.exporter, entries)
      await expectTree(f, entries)
    })

    if (o.symlinks) {
      run('symlinks keep their target verbatim, dangling and absolute ones too', async (f) => {
        const entries: FixtureEntry[] = [
          file('real.txt', 'real'),
          {type: 'symlink', path: 'relative', target: 'real.txt'},
          {type: 'symlink', path: 'dangling', target: 'does/not/exist'},
          {type: 'symlink', path: 'absolute', target: '/etc/hostname'},
          {type: 'symlink', path: 'odd target', target: 'a b#c%d\u00e9'},
          dir('d'),
          {type: 'symlink', path: 'd/up', target: '../real.txt'},
        ]
        await exportEntries(f.exporter, entries)
        await expectTree(f, entries)
      })
    }

    if (o.hardlinks) {
      run('hard links share one file', async (f) => {
        await f.exporter.createDirectory('/', {type: 'directory', size: 0})
        await f.exporter.createDirectory('/d', {type: 'directory', size: 0})
        await f.exporter.storeFile('/d/first', fixtureContent(file('d/first', 'linked content')), {type: 'file', size: 14, nlink: 2})
        await f.exporter.createLink('/second', '/d/first', 'hardlink')
        await f.exporter.setMetadata('/d', {type: 'directory', size: 0})
        await f.exporter.setMetadata('/', {type: 'directory', size: 0})
        const found = await expectTree(f, [dir('d'), file('d/first', 'linked content'), file('second', 'linked content')])
        const first = found.get('d/first')!
        const second = found.get('second')!
        expect(first.linkId, 'readBack() must give linkId for a target with hard links').toBeDefined()
        expect(second.linkId, 'the hard link is the same file as its target').toBe(first.linkId)
      })
    }

    run('a storeFile whose source fails leaves nothing at that path', async (f) => {
      await f.exporter.createDirectory('/', {type: 'directory', size: 0})
      const source = Readable.from(
        (async function* () {
          yield pseudoRandomBytes('failing', 0, 256 * 1024)
          await sleep(10)
          throw new Error('source failed on purpose')
        })(),
        {objectMode: false},
      )
      await expectFailure('storeFile() from a failing source', () => f.exporter.storeFile('/broken.bin', source, {type: 'file', size: 512 * 1024}))
      await f.exporter.storeFile('/ok.txt', fixtureContent(file('ok.txt', 'ok')), {type: 'file', size: 2})
      await f.exporter.setMetadata('/', {type: 'directory', size: 0})
      await expectTree(f, [file('ok.txt', 'ok')])
    })

    run('a storeFile aborted through its signal while its source stalls rejects, and leaves nothing at that path', async (f) => {
      await f.exporter.createDirectory('/', {type: 'directory', size: 0})
      const controller = new AbortController()
      let stalled = () => {}
      const stalling = new Promise<void>((resolve) => (stalled = resolve))
      let sent = false
      // Gives 256 KiB, then nothing more when asked again: the exporter waits on this source,
      // and only the signal can end the call.
      const source = new Readable({
        read() {
          if (sent) return stalled()
          sent = true
          this.push(pseudoRandomBytes('stalled', 0, 256 * 1024))
        },
      })
      const storing = f.exporter.storeFile('/stalled.bin', source, {type: 'file', size: 512 * 1024}, {signal: controller.signal})
      // Handled now: should the call fail before it asks for more, the check below says so.
      storing.catch(() => {})
      await Promise.race([stalling, storing.catch(() => {})])
      controller.abort(new Error('stopped on purpose'))
      await expectFailure('storeFile() aborted through its signal', () => storing)
      await f.exporter.storeFile('/ok.txt', fixtureContent(file('ok.txt', 'ok')), {type: 'file', size: 2})
      await f.exporter.setMetadata('/', {type: 'directory', size: 0})
      await expectTree(f, [file('ok.txt', 'ok')])
    })

    run(
      `a large file (${o.largeFileSize} bytes) is streamed`,
      async (f) => {
        const entries: FixtureEntry[] = [{type: 'file', path: 'large.bin', size: o.largeFileSize, seed: 'large-export'}]
        await exportEntries(f.exporter, entries)
        await expectTree(f, entries)
      },
      {slow: true},
    )

    run('paths with ".." or a NUL byte are refused, and nothing is written outside the root', async (f) => {
      const {exporter} = f
      await exporter.createDirectory('/', {type: 'directory', size: 0})
      await exporter.createDirectory('/inside', {type: 'directory', size: 0})
      await exporter.storeFile('/inside/victim', fixtureContent(file('inside/victim', 'victim')), {type: 'file', size: 6})
      const bad = [
        '/..',
        '/../escape',
        '/../../../../../../../../tmp/escape',
        '/inside/../../escape',
        '/inside/../inside-too',
        '/inside/..',
        '/nul\0byte',
        '/inside/nul\0/../../escape',
      ]
      const body = () => fixtureContent(file('x', 'escaped'))
      for (const path of bad) {
        const shown = JSON.stringify(path)
        await expectFailure(`storeFile(${shown})`, () => exporter.storeFile(path, body(), {type: 'file', size: 7}))
        await expectFailure(`createDirectory(${shown})`, () => exporter.createDirectory(path, {type: 'directory', size: 0}))
        if (o.symlinks) await expectFailure(`createLink(${shown}, symlink)`, () => exporter.createLink(path, 'target', 'symlink'))
        if (o.hardlinks) {
          await expectFailure(`createLink(${shown}, hardlink)`, () => exporter.createLink(path, '/inside/victim', 'hardlink'))
          await expectFailure(`createLink(hardlink to ${shown})`, () => exporter.createLink('/hl', path, 'hardlink'))
        }
        await expectFailure(`setMetadata(${shown})`, () => exporter.setMetadata(path, {type: 'file', size: 0, mode: 0o777, mtime: T0}))
      }
      // The root itself is a directory: a file or a link cannot take its place.
      await expectFailure('storeFile("/")', () => exporter.storeFile('/', body(), {type: 'file', size: 7}))
      if (o.symlinks) await expectFailure('createLink("/", symlink)', () => exporter.createLink('/', 'target', 'symlink'))
      if (o.hardlinks) await expectFailure('createLink("/", hardlink)', () => exporter.createLink('/', '/inside/victim', 'hardlink'))
      await exporter.setMetadata('/inside', {type: 'directory', size: 0})
      await exporter.setMetadata('/', {type: 'directory', size: 0})
      await expectTree(f, [dir('inside'), file('inside/victim', 'victim')])
      await expectNothingOutside(f)
    })

    if (o.symlinks) {
      run('a restored symlink is never followed by later writes', async (f) => {
        const {exporter} = f
        await exporter.createDirectory('/', {type: 'directory', size: 0})
        await exporter.createLink('/up', '..', 'symlink')
        await exporter.createDirectory('/d', {type: 'directory', size: 0})
        await exporter.createLink('/d/upup', '../..', 'symlink')
        await exporter.createLink('/to-outside-file', '../victim-file', 'symlink')
        // Each of these would land outside the root if a symlink were followed.
        const attempts: [string, () => Promise<unknown>][] = [
          ['storeFile(/up/escaped.txt)', () => exporter.storeFile('/up/escaped.txt', fixtureContent(file('e', 'escaped')), {type: 'file', size: 7})],
          ['createDirectory(/up/escaped-dir)', () => exporter.createDirectory('/up/escaped-dir', {type: 'directory', size: 0})],
          ['createLink(/up/escaped-link)', () => exporter.createLink('/up/escaped-link', 'x', 'symlink')],
          ['storeFile(/d/upup/escaped2.txt)', () => exporter.storeFile('/d/upup/escaped2.txt', fixtureContent(file('e', 'escaped')), {type: 'file', size: 7})],
        ]
        const results: string[] = []
        for (const [what, attempt] of attempts) {
          try {
            await attempt()
            results.push(`${what}: accepted`)
          } catch (error) {
            results.push(`${what}: refused (${describeError(error)})`)
          }
        }
        await expectNothingOutside(f)
        // Storing a file over a symlink replaces the link; it never writes through it.
        await exporter.storeFile('/to-outside-file', fixtureContent(file('to-outside-file', 'replaced')), {type: 'file', size: 8})
        await expectNothingOutside(f)
        await exporter.setMetadata('/d', {type: 'directory', size: 0})
        await exporter.setMetadata('/', {type: 'directory', size: 0})
        // setMetadata through a symlinked parent must not touch what the link points to.
        await exporter.createDirectory('/real', {type: 'directory', size: 0})
        await exporter.storeFile('/real/f', fixtureContent(file('real/f', 'f')), {type: 'file', size: 1, mode: 0o644, mtime: T0})
        await exporter.setMetadata('/real', {type: 'directory', size: 0, mode: 0o755, mtime: T0})
        await exporter.createLink('/alias', 'real', 'symlink')
        const before = byPath(await f.readBack()).get('real/f')!
        try {
          await exporter.setMetadata('/alias/f', {type: 'file', size: 1, mode: 0o600, mtime: T0 + 86_400_000})
        } catch {
          // Refusing is the expected answer; not changing anything is enough.
        }
        const after = byPath(await f.readBack()).get('real/f')!
        expect([after.mode, after.mtime], 'setMetadata(/alias/f) changed real/f through the symlink /alias').toEqual([before.mode, before.mtime])
        const found = byPath(await f.readBack())
        expect(found.get('to-outside-file')?.type, 'a file stored over a symlink replaces it').toBe('file')
        expect(found.get('up')?.type, `/up stays a symlink (${results.join('; ')})`).toBe('symlink')
        for (const path of found.keys()) expect(path.includes('escaped'), `${path} was written through a symlink`).toBe(false)
      })
    }

    run('close() resolves', async (f) => {
      await exportEntries(f.exporter, [file('x', 'x')])
      closedByTest.add(f.exporter)
      await f.exporter.close()
    })
  })
}
