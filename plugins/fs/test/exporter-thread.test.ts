/**
 * The fs exporter's writing thread (storeFiles): only the built plugin has the thread's script,
 * so these tests load dist/ (the build runs before them). From the TypeScript sources the same
 * batches are written on the calling thread (exporter.test.ts runs the suite that way).
 */
import {execFile} from 'node:child_process'
import {createReadStream, mkdirSync, readdirSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {lstat, mkdtemp, readdir, readlink} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'
import {promisify} from 'node:util'
import type {ConnectorContext, Exporter, ExportFile, FileInfo} from '@plakar/sdk'
import {pseudoRandomBytes, testExporter, type ExportedEntry} from '@plakar/sdk/testing'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {context, removeTree} from './context.js'

const BUILT = fileURLToPath(new URL('../dist/exporter.js', import.meta.url))
const createExporter = (await import(pathToFileURL(BUILT).href)).default as (c: ConnectorContext) => Promise<Exporter>

/** Everything under `root`, never following a symlink. */
async function walk(root: string, rel = ''): Promise<ExportedEntry[]> {
  const out: ExportedEntry[] = []
  for (const name of await readdir(join(root, rel))) {
    const path = rel ? `${rel}/${name}` : name
    const full = join(root, path)
    const stats = await lstat(full)
    const common = {path, mode: stats.mode & 0o7777, mtime: stats.mtimeMs, linkId: `${stats.dev}:${stats.ino}`}
    if (stats.isSymbolicLink()) out.push({...common, type: 'symlink', target: await readlink(full)})
    else if (stats.isDirectory()) out.push({...common, type: 'directory'}, ...(await walk(root, path)))
    else if (stats.isFile()) out.push({...common, type: 'file', content: async () => createReadStream(full)})
    else throw new Error(`unexpected ${path} in the restore target`)
  }
  return out
}

testExporter('fs, built (batches on its writing thread)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'plakar-fs-exporter-thread-'))
  const root = join(dir, 'target')
  return {
    exporter: await createExporter(context(root)),
    readBack: () => walk(root),
    outside: async () => (await readdir(dir)).filter((name) => name !== 'target'),
    cleanup: () => removeTree(dir),
  }
})

const now = Date.now()
const dirInfo: FileInfo = {type: 'directory', size: 0, mode: 0o777, mtime: now}
const one = (path: string, text: string): ExportFile => ({path, parts: [Buffer.from(text)], info: {type: 'file', size: text.length, mode: 0o644, mtime: now}})

describe('fs exporter: batches on its writing thread under a racing local user', () => {
  let dir: string
  let target: string
  let outside: string
  let exporter: Exporter

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'plakar-fs-thread-race-'))
    target = join(dir, 'target')
    outside = join(dir, 'outside')
    mkdirSync(outside, {mode: 0o700})
    writeFileSync(join(outside, 'keep.txt'), 'precious\n')
    exporter = await createExporter(context(target))
    expect(exporter.storeFiles, 'the fs exporter has storeFiles').toBeDefined()
  })
  afterEach(async () => {
    await exporter.close()
    await removeTree(dir)
  })

  /** The attacker's move: the directory restore made goes aside, a symlink to `outside` takes its name. */
  const swap = (rel: string) => {
    renameSync(join(target, rel), join(target, `${rel}.moved`))
    symlinkSync(outside, join(target, rel))
  }
  const outsideUntouched = () => {
    expect(readdirSync(outside)).toEqual(['keep.txt'])
    expect(statSync(outside).mode & 0o777).toBe(0o700)
  }

  it('a directory swapped before the thread opened it is refused, never followed', async () => {
    await exporter.createDirectory('/', dirInfo)
    await exporter.createDirectory('/a', dirInfo)
    swap('a')
    const outcomes = await exporter.storeFiles!([one('/a/f.txt', 'secret\n'), one('/g.txt', 'fine\n')])
    expect(outcomes[0]?.message).toMatch(/refused to write below .*\/a: it is a symlink/)
    expect(outcomes[1]).toBeUndefined()
    outsideUntouched()
    expect(readdirSync(join(target, 'a.moved'))).toEqual([])
    expect(readFileSync(join(target, 'g.txt'), 'utf8')).toBe('fine\n')
  })

  it('a directory the thread holds open keeps receiving its files after a swap', async () => {
    await exporter.createDirectory('/', dirInfo)
    await exporter.createDirectory('/a', dirInfo)
    expect(await exporter.storeFiles!([one('/a/one', '1')])).toEqual([undefined])
    swap('a')
    expect(await exporter.storeFiles!([one('/a/two', '2')])).toEqual([undefined])
    outsideUntouched()
    expect(readdirSync(join(target, 'a.moved')).sort()).toEqual(['one', 'two'])
  })

  it('the exporter closing and reusing its descriptors never redirects a batch: the thread has its own', async () => {
    await exporter.createDirectory('/', dirInfo)
    await exporter.createDirectory('/a', dirInfo)
    expect(await exporter.storeFiles!([one('/a/one', '1')])).toEqual([undefined])
    // The exporter's own cache of 256 descriptors evicts /a's and opens others, likely at its number.
    for (let i = 0; i <= 300; i++) await exporter.createDirectory(`/d${i}`, dirInfo)
    expect(await exporter.storeFiles!([one('/a/two', '2')])).toEqual([undefined])
    expect(readdirSync(join(target, 'a')).sort()).toEqual(['one', 'two'])
    for (let i = 0; i <= 300; i++) expect(readdirSync(join(target, `d${i}`)), `d${i}`).toEqual([])
  })

  it('an aborted call stores nothing and rejects with the reason', async () => {
    await exporter.createDirectory('/', dirInfo)
    const controller = new AbortController()
    controller.abort(new Error('stopped by the test'))
    await expect(exporter.storeFiles!([one('/x', 'x')], {signal: controller.signal})).rejects.toThrow('stopped by the test')
    expect(readdirSync(target)).toEqual([])
  })

  it('a file that fails alone is its own outcome, and the batch goes on', async () => {
    await exporter.createDirectory('/', dirInfo)
    // A failure of the whole target (a full disk) ends the restore instead: test/e2e/full-disk.test.ts.
    const outcomes = await exporter.storeFiles!([one('/missing/x', 'x'), one('/y', 'y')])
    expect(outcomes[0]?.message).toMatch(/ENOENT/)
    expect(outcomes[1]).toBeUndefined()
  })
})

describe('fs exporter: its writing thread', () => {
  it('takes a batch larger than its pieces (4 MiB) in several, in order, and a file larger than a piece in one of its own', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'plakar-fs-thread-pieces-'))
    const target = join(dir, 'target')
    const exporter = await createExporter(context(target))
    try {
      await exporter.createDirectory('/', dirInfo)
      // 14 MiB in 300 KiB files (more pieces than the pool's three buffers), one of 5 MiB among them, in two parts.
      const contents = Array.from({length: 48}, (_, i) => pseudoRandomBytes(`piece${i}`, 0, i === 20 ? 5 * 1024 * 1024 + 1 : 300 * 1024 + i))
      const batch: ExportFile[] = contents.map((bytes, i) => ({path: `/f${i}`, parts: [bytes.subarray(0, 1000), bytes.subarray(1000)], info: {type: 'file', size: bytes.length, mode: 0o644, mtime: now}}))
      const outcomes = await exporter.storeFiles!(batch)
      expect(outcomes).toEqual(batch.map(() => undefined))
      for (const [i, bytes] of contents.entries()) expect(readFileSync(join(target, `f${i}`)).equals(bytes), `f${i}`).toBe(true)
    } finally {
      await exporter.close()
      await removeTree(dir)
    }
  })

  it('does not keep a process alive that never closes the exporter', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'plakar-fs-thread-exit-'))
    try {
      const script = `const m = await import(${JSON.stringify(pathToFileURL(BUILT).href)}); const e = await m.default(${JSON.stringify({
        ...context(join(dir, 'target')),
        logger: undefined,
      })}); await e.createDirectory('/', {type: 'directory', size: 0}); const o = await e.storeFiles([{path: '/f', parts: [Buffer.from('f')], info: {type: 'file', size: 1}}]); console.log(o.length)`
      // A script file: a thread inherits the process's flags, and --input-type is refused for its script.
      writeFileSync(join(dir, 'script.mjs'), script)
      const {stdout} = await promisify(execFile)(process.execPath, [join(dir, 'script.mjs')])
      expect(stdout.trim()).toBe('1')
      expect(readFileSync(join(dir, 'target', 'f'), 'utf8')).toBe('f')
    } finally {
      await removeTree(dir)
    }
  })
})
