/**
 * A directory whose listing fails half-way (an I/O error) keeps what was listed: the entries
 * read before the failure are in the snapshot, and so is the directory itself, marked with the
 * error, so that a restore recreates it and puts them back. The failure is injected into the
 * fs importer's opendir; the backup and the restore are the engine's.
 */
import {writeFileSync} from 'node:fs'
import {mkdir, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it, vi} from 'vitest'

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>()
  const opendirSync = (path: string, options?: import('node:fs').OpenDirOptions) => {
    const dir = fs.opendirSync(path, options)
    if (!path.endsWith('/flaky')) return dir
    let reads = 0
    return {
      readSync: () => {
        if (reads++ === 1) throw Object.assign(new Error('EIO: i/o error, scandir'), {code: 'EIO'})
        return dir.readSync()
      },
      closeSync: () => dir.closeSync(),
    }
  }
  return {...fs, default: {...fs, opendirSync}, opendirSync}
})

const {backup} = await import('../../core/engine/src/engine/backup.js')
const {restore} = await import('../../core/engine/src/engine/restore.js')
const {Snapshot} = await import('../../core/engine/src/engine/snapshot.js')
const {Repository} = await import('../../core/engine/src/repository/repository.js')
const {FsImporter} = await import('../../plugins/fs/src/importer.js')
const {FsExporter} = await import('../../plugins/fs/src/exporter.js')
const {FsStorage} = await import('../../plugins/fs/src/storage.js')

describe('a directory listing that fails half-way', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'plakar-scan-errors-'))
  })
  afterAll(() => rm(dir, {recursive: true, force: true}))

  it('keeps the directory and what was listed before the error, and restores them', async () => {
    const src = join(dir, 'src')
    await mkdir(join(src, 'flaky'), {recursive: true})
    for (const name of ['a', 'b', 'c']) await writeFile(join(src, 'flaky', name), `${name}\n`)
    const storage = new FsStorage(join(dir, 'repo'))
    await Repository.create(storage, {})
    const repo = await Repository.open(storage, {cacheDir: join(dir, 'cache'), passphrase: async () => Buffer.alloc(0), logger: {debug() {}, info() {}, warn() {}}})
    try {
      const errors: string[] = []
      const result = await backup(repo, [new FsImporter(src)], {tmpDir: dir, onError: (e) => errors.push(`${e.path}: ${e.error}`)})
      expect(errors).toEqual([`${join(src, 'flaky')}: EIO: i/o error, scandir`])
      const snapshot = new Snapshot(repo, result.snapshot!)
      const flaky = await snapshot.requireEntry(join(src, 'flaky'))
      expect(flaky.info.type).toBe('directory')
      expect(flaky.error).toMatch(/EIO/)
      const listed = []
      for await (const [path, entry] of snapshot.children(join(src, 'flaky'))) listed.push([path, entry.info.type])
      expect(listed).toHaveLength(1)

      const target = join(dir, 'restored')
      await mkdir(target)
      const restored = await restore(snapshot, src, new FsExporter(target, false))
      expect(restored.files).toBe(1)
      const name = (listed[0][0] as string).split('/').pop()!
      expect(await readFile(join(target, 'flaky', name), 'utf8')).toBe(`${name}\n`)
    } finally {
      await repo.close()
    }
  })

  it('says why a file whose name is not valid UTF-8 is not backed up', async () => {
    const src = join(dir, 'names')
    await mkdir(src)
    writeFileSync(Buffer.concat([Buffer.from(`${src}/latin1-caf`), Buffer.from([0xe9])]), 'bytes\n')
    await writeFile(join(src, 'fine'), 'fine\n')
    const seen: string[] = []
    for await (const item of new FsImporter(src).scan({signal: new AbortController().signal})) {
      if ('error' in item) seen.push(`${item.path}: ${item.error}`)
    }
    expect(seen).toEqual([`${src}/latin1-caf\uFFFD: not backed up: its name is not valid UTF-8`])
  })
})
