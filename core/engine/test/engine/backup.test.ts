import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {backup} from '../../src/engine/backup.js'
import {restore} from '../../src/engine/restore.js'
import {Snapshot} from '../../src/engine/snapshot.js'
import {type Exporter, type Importer, type ImportRecord, readAll} from '@plakar/sdk'
import {openState} from '../../src/format/state.js'
import {Repository} from '../../src/repository/repository.js'
import {MemoryStorage} from '../memory-storage.js'

const quiet = {debug() {}, info() {}, warn() {}}

function importer(records: () => ImportRecord[]): Importer {
  return {type: 'test', origin: 'here', root: '/r', async *scan() {
    yield* records()
  }, async close() {}}
}

function file(path: string, content: string): ImportRecord {
  const data = Buffer.from(content)
  return {path, info: {type: 'file', size: data.length, mode: 0o644, mtime: 1, ino: 7, dev: 1}, open: async () => Readable.from([data])}
}

/** An exporter that keeps restored files in memory. */
function memoryExporter(files: Map<string, string>): Exporter {
  return {
    root: 'memory:/',
    async createDirectory() {},
    async storeFile(path, data) {
      files.set(path, (await readAll(data)).toString())
    },
    async createLink() {},
    async setMetadata() {},
    async close() {},
  }
}

/** A source of one file, /r/f, holding `content`, with these times. */
function oneFile(content: string, times: {mtime?: number; ctime?: number}): () => ImportRecord[] {
  return () => {
    const record = file('/r/f', content)
    Object.assign(record.info, times)
    return [{path: '/r', info: {type: 'directory' as const, size: 0}}, record]
  }
}

/** What a restore of a backup's snapshot writes as /r/f. */
async function restoredFile(repo: Repository, result: Awaited<ReturnType<typeof backup>>): Promise<string | undefined> {
  const files = new Map<string, string>()
  await restore(new Snapshot(repo, result.snapshot!), '/r', memoryExporter(files))
  return files.get('/f')
}

describe('backup', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'plakar-backup-'))
  })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  /** Opens `storage` with a client cache of its own under the test's directory. */
  const openRepo = (storage: MemoryStorage, cache = 'cache') =>
    Repository.open(storage, {cacheDir: join(dir, cache), passphrase: async () => Buffer.alloc(0), logger: quiet})

  /** A new repository in memory, created with `options`, open for `run` and closed after it. */
  const withRepo = async (options: Parameters<typeof Repository.create>[1], run: (repo: Repository, storage: MemoryStorage) => Promise<void>) => {
    const storage = new MemoryStorage()
    await Repository.create(storage, options)
    const repo = await openRepo(storage)
    try {
      await run(repo, storage)
    } finally {
      await repo.close()
    }
  }

  it('reads unchanged files again when the states that listed their chunks are unreadable', async () => {
    const storage = new MemoryStorage()
    // One blob per packfile: the packfiles of the first backup are listed in states of their
    // own, written before the one naming the snapshot.
    await Repository.create(storage, {packfileSize: 1})
    const records = () => [{path: '/r', info: {type: 'directory' as const, size: 0}}, ...Array.from({length: 12}, (_, i) => file(`/r/f${i}`, `content of file ${i}\n`))]
    const first = await openRepo(storage, 'first')
    await backup(first, [importer(records)], {tmpDir: dir})
    // Damage every state but the one naming the snapshot.
    let damaged = 0
    for (const [id, bytes] of storage.objects.state) {
      if (openState(first.keys, id, bytes).snapshots.length > 0) continue
      bytes[bytes.length - 1] ^= 1
      damaged++
    }
    await first.close()
    expect(damaged).toBeGreaterThan(0)
    const repo = await openRepo(storage, 'second')
    try {
      expect(repo.damagedStates.length).toBeGreaterThan(0)
      const result = await backup(repo, [importer(records)], {tmpDir: dir})
      const files = new Map<string, string>()
      const progress = await restore(new Snapshot(repo, result.snapshot!), '/r', memoryExporter(files))
      expect(progress.errors).toBe(0)
      expect(files.get('/f3')).toBe('content of file 3\n')
    } finally {
      await repo.close()
    }
  })

  it('reads a large unchanged file again when its chunk list is indexed but its chunks are not', async () => {
    const storage = new MemoryStorage()
    // Tiny chunks and one blob per packfile: a file of more than 32 chunks has an object blob
    // (a metadata packfile) and its chunks in data packfiles listed by states of their own.
    await Repository.create(storage, {packfileSize: 1, chunking: {algorithm: 'fastcdc', min: 64, avg: 128, max: 256}})
    const big = Array.from({length: 400}, (_, i) => `line ${i} of a file cut into many chunks`).join('\n')
    const records = () => [{path: '/r', info: {type: 'directory' as const, size: 0}}, file('/r/big', big)]
    const first = await openRepo(storage, 'first')
    const result = await backup(first, [importer(records)], {tmpDir: dir})
    expect((await new Snapshot(first, result.snapshot!).entry('/r/big'))?.object).toBeDefined()
    // Damage the states that list only data packfiles.
    let damaged = 0
    for (const [id, bytes] of storage.objects.state) {
      const delta = openState(first.keys, id, bytes)
      if (delta.snapshots.length > 0 || delta.packfiles.some((p) => p.kind === 'meta')) continue
      bytes[bytes.length - 1] ^= 1
      damaged++
    }
    await first.close()
    expect(damaged).toBeGreaterThan(0)
    const repo = await openRepo(storage, 'second')
    try {
      const again = await backup(repo, [importer(records)], {tmpDir: dir})
      const files = new Map<string, string>()
      const progress = await restore(new Snapshot(repo, again.snapshot!), '/r', memoryExporter(files))
      expect(progress.errors).toBe(0)
      expect(files.get('/big')).toBe(big)
    } finally {
      await repo.close()
    }
  })

  it('names no snapshot once aborted, even when the scan had already ended', () =>
    withRepo({}, async (repo) => {
      const controller = new AbortController()
      // Ctrl-C arrives while the last file is being read, after the scan yielded everything.
      const last = file('/r/last', 'the last file\n')
      const open = last.open!
      last.open = async () => {
        controller.abort(new Error('interrupted'))
        return open()
      }
      await expect(backup(repo, [importer(() => [{path: '/r', info: {type: 'directory', size: 0}}, file('/r/a', 'a\n'), last])], {tmpDir: dir, signal: controller.signal})).rejects.toThrow('interrupted')
      await repo.refresh()
      expect(repo.cache.snapshots()).toEqual([])
    }))

  it('stops at the first failed upload instead of reading every remaining file', () =>
    withRepo({packfileSize: 1}, async (repo, storage) => {
      storage.beforePut = (kind) => {
        if (kind === 'packfile') throw new Error('No space left on device')
      }
      let opened = 0
      const records = () =>
        Array.from({length: 200}, (_, i) => {
          const record = file(`/r/f${i}`, `content ${i}\n`)
          const open = record.open!
          record.open = () => {
            opened++
            return open()
          }
          return record
        })
      const warnings: string[] = []
      await expect(backup(repo, [importer(records)], {tmpDir: dir, concurrency: 2, onError: (e) => warnings.push(e.error)})).rejects.toThrow('No space left on device')
      expect(warnings).toEqual([])
      expect(opened).toBeLessThan(50)
    }))

  it('reads a file again when its content changed but its mtime was put back (its ctime moved)', () =>
    withRepo({}, async (repo) => {
      await backup(repo, [importer(oneFile('version-1', {ctime: 1000}))], {tmpDir: dir})
      // Same size, same mtime (touch -r, cp -p, rsync -t…), new content: only ctime tells.
      const second = await backup(repo, [importer(oneFile('VERSION-2', {ctime: 2000}))], {tmpDir: dir})
      expect(await restoredFile(repo, second)).toBe('VERSION-2')
    }))

  it('reads a file again when the parent snapshot read it in the tick of its mtime (racily clean)', () =>
    withRepo({}, async (repo) => {
      // A source whose times have one-second resolution (SFTP): a change within the second the
      // last backup read the file leaves size, mtime and ctime as they were.
      const version = (content: string, mtime: number) => oneFile(content, {mtime, ctime: mtime})
      // Modified while the backup ran (a time ahead of its start: skew does not matter either).
      const now = Date.now() + 60_000
      await backup(repo, [importer(version('version-1', now))], {tmpDir: dir})
      const second = await backup(repo, [importer(version('VERSION-2', now))], {tmpDir: dir})
      expect(await restoredFile(repo, second)).toBe('VERSION-2')
      expect(second.progress.readBytes).toBe(9)

      // A file last modified well before the backup that read it is trusted as unchanged.
      const old = Date.now() - 60_000
      await backup(repo, [importer(version('version-3', old))], {tmpDir: dir})
      const fourth = await backup(repo, [importer(version('VERSION-4', old))], {tmpDir: dir})
      expect(fourth.progress.readBytes).toBe(0)
      expect(await restoredFile(repo, fourth)).toBe('version-3')
    }))

  it('refuses a name holding a NUL byte with an error instead of storing it under another path', () =>
    withRepo({}, async (repo) => {
      const errors: {path: string; error: string}[] = []
      const records = () => [{path: '/r', info: {type: 'directory' as const, size: 0}}, file('/r/a\0b', 'hidden\n'), file('/r/ok', 'ok\n')]
      const result = await backup(repo, [importer(records)], {tmpDir: dir, onError: (e) => errors.push(e)})
      expect(result.progress.errors).toBe(1)
      expect(errors).toEqual([{path: '/r/a\\0b', error: expect.stringContaining('NUL byte')}])
      const files = new Map<string, string>()
      await restore(new Snapshot(repo, result.snapshot!), '/r', memoryExporter(files))
      // Before, the NUL became a separator: the content came back as /a/b.
      expect([...files.keys()]).toEqual(['/ok'])
    }))
})
