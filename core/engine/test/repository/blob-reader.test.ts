import {randomBytes} from 'node:crypto'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {type Id, type Importer, type Kind, ObjectNotFoundError, type Range, type ReadIntoOptions} from '@plakar/sdk'
import {BlobType} from '../../src/format/blob-type.js'
import {backup} from '../../src/engine/backup.js'
import {Snapshot} from '../../src/engine/snapshot.js'
import {Repository} from '../../src/repository/repository.js'
import {MemoryStorage} from '../memory-storage.js'

const quiet = {debug() {}, info() {}, warn() {}}

/** A source /r of files f0, f1, …, the i-th with `file(i)`'s content and mtime. */
function source(count: number, file: (i: number) => {content: Buffer; mtime: number}): Importer {
  return {
    type: 'test',
    origin: 'here',
    root: '/r',
    async *scan() {
      yield {path: '/r', info: {type: 'directory', size: 0}}
      for (let i = 0; i < count; i++) {
        const {content, mtime} = file(i)
        yield {path: `/r/f${i}`, info: {type: 'file', size: content.length, mode: 0o644, mtime}, open: async () => Readable.from([content])}
      }
    },
    async close() {},
  }
}

/** Counts the packfile reads that reach the storage. */
class CountingStorage extends MemoryStorage {
  packfileReads = 0
  override async get(kind: Kind, id: Id, range?: Range): Promise<Readable> {
    if (kind === 'packfile') this.packfileReads++
    return super.get(kind, id, range)
  }
}

/** A storage that reads into the caller's buffer (as a local directory does), by the SDK's contract. */
class ReadIntoStorage extends MemoryStorage {
  gets = 0
  readIntos = 0
  override async get(kind: Kind, id: Id, range?: Range): Promise<Readable> {
    if (kind === 'packfile') this.gets++
    return super.get(kind, id, range)
  }
  async readInto(kind: Kind, id: Id, into: Uint8Array, options?: ReadIntoOptions): Promise<void> {
    this.readIntos++
    const bytes = this.objects[kind].get(id)
    if (!bytes) throw new ObjectNotFoundError(`${kind} ${id} not found`)
    const start = options?.offset ?? 0
    const available = bytes.subarray(start, start + into.length)
    into.set(available)
    if (available.length !== into.length || (options?.offset === undefined && bytes.length !== into.length)) {
      throw Object.assign(new Error(`${kind} ${id}: short read`), {code: 'ESHORTREAD'})
    }
  }
}

describe('blob reader', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'plakar-reader-'))
  })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it('reads a tree walked in order with a few storage reads, not one per node', async () => {
    const storage = new CountingStorage()
    await Repository.create(storage, {})
    const files = 20_000
    const importer = source(files, (i) => ({content: Buffer.alloc(0), mtime: i}))
    const first = await Repository.open(storage, {cacheDir: join(dir, 'a'), passphrase: async () => Buffer.alloc(0), logger: quiet})
    const result = await backup(first, [importer], {tmpDir: dir})
    let nodes = 0
    for await (const _ of new Snapshot(first, result.snapshot!).vfs.nodes()) nodes++
    await first.close()

    // A client of its own: nothing cached in memory.
    const repo = await Repository.open(storage, {cacheDir: join(dir, 'a'), passphrase: async () => Buffer.alloc(0), logger: quiet})
    try {
      const snapshot = new Snapshot(repo, result.snapshot!)
      storage.packfileReads = 0
      let walked = 0
      for await (const [path] of snapshot.walk('/r')) if (path.startsWith('/r/f')) walked++
      expect(walked).toBe(files)
      // Hundreds of nodes, read through a handful of windows.
      expect(nodes).toBeGreaterThan(100)
      expect(storage.packfileReads).toBeLessThan(nodes / 10)
    } finally {
      await repo.close()
    }
  })

  it('reads ranges into buffers it uses again, never into one that a plaintext still views', async () => {
    // Random content is stored uncompressed: in a plaintext repository a blob opened on this
    // thread is then a view of its range's buffer, in an encrypted one a buffer of its own.
    for (const passphrase of [undefined, Buffer.from('range buffers')]) {
      const storage = new ReadIntoStorage()
      // One chunk per file and per packfile: a range each, of a size the buffers are kept for.
      await Repository.create(storage, {passphrase, packfileSize: 1, chunking: {algorithm: 'fastcdc', min: 512 * 1024, avg: 1024 * 1024, max: 2 * 1024 * 1024}})
      const contents = Array.from({length: 12}, (_, i) => randomBytes(300_000 + i * 1000))
      const importer = source(contents.length, (i) => ({content: contents[i], mtime: 1}))
      const repo = await Repository.open(storage, {cacheDir: join(dir, passphrase ? 'e' : 'p'), passphrase: async () => passphrase ?? Buffer.alloc(0), logger: quiet})
      try {
        const result = await backup(repo, [importer], {tmpDir: dir})
        const snapshot = new Snapshot(repo, result.snapshot!)
        const refs = await Promise.all(contents.map(async (_, i) => (await snapshot.chunks((await snapshot.entry(`/r/f${i}`))!)).map(([mac]) => mac)))
        expect(refs.every((macs) => macs.length === 1)).toBe(true)
        // Two ranges at a time: the third is read into a buffer the first was read into, were
        // it handed back while its plaintext still viewed it.
        const {blobs, failed} = await repo.reader.fetch(BlobType.CHUNK, refs.flat(), 2)
        expect(failed.size).toBe(0)
        expect(refs.map(([mac], i) => blobs.get(Buffer.from(mac).toString('hex'))!.equals(contents[i]))).toEqual(contents.map(() => true))
        expect(repo.reader.rangeBytesWaiting > 0).toBe(passphrase !== undefined)
        // Streamed too, into buffers already used.
        for (const i of [3, 0, 11]) {
          const streamed: Buffer[] = []
          for await (const chunk of repo.reader.chunks(refs[i])) streamed.push(chunk)
          expect(Buffer.concat(streamed).equals(contents[i])).toBe(true)
        }
      } finally {
        await repo.close()
      }
    }
  })

  it('reads ranges into one buffer where the storage can, and names a truncated or missing packfile', async () => {
    const storage = new ReadIntoStorage()
    await Repository.create(storage, {packfileSize: 1})
    const contents = Array.from({length: 40}, (_, i) => `content of file ${i} `.repeat(50 + i))
    const importer = source(contents.length, (i) => ({content: Buffer.from(contents[i]), mtime: 1}))
    const repo = await Repository.open(storage, {cacheDir: join(dir, 'a'), passphrase: async () => Buffer.alloc(0), logger: quiet})
    try {
      const result = await backup(repo, [importer], {tmpDir: dir})
      const snapshot = new Snapshot(repo, result.snapshot!)
      const refs = await Promise.all(contents.map(async (_, i) => (await snapshot.chunks((await snapshot.entry(`/r/f${i}`))!)).map(([mac]) => mac)))
      storage.gets = 0
      storage.readIntos = 0
      const {blobs, failed} = await repo.reader.fetch(BlobType.CHUNK, refs.flat())
      expect(failed.size).toBe(0)
      expect(refs.map((macs) => macs.map((mac) => blobs.get(Buffer.from(mac).toString('hex'))!.toString()).join(''))).toEqual(contents)
      // Every range through readInto, none as a stream.
      expect(storage.readIntos).toBeGreaterThan(0)
      expect(storage.gets).toBe(0)
      // Streamed, a file's chunks come the same way.
      const streamed: Buffer[] = []
      for await (const chunk of repo.reader.chunks(refs[7])) streamed.push(chunk)
      expect(Buffer.concat(streamed).toString()).toBe(contents[7])
      expect(storage.gets).toBe(0)

      // The packfile of file 3 cut short, the one of file 5 gone: each named, the others read.
      const packOf = (i: number) => repo.cache.locate(BlobType.CHUNK, Buffer.from(refs[i][0]))!.pack
      const cut = storage.objects.packfile.get(packOf(3))!
      storage.objects.packfile.set(packOf(3), cut.subarray(0, 10))
      storage.objects.packfile.delete(packOf(5))
      const again = await repo.reader.fetch(BlobType.CHUNK, refs.flat())
      expect(again.failed.get(Buffer.from(refs[3][0]).toString('hex'))).toBe(`packfile ${packOf(3).slice(0, 16)} is truncated`)
      expect(again.failed.get(Buffer.from(refs[5][0]).toString('hex'))).toBe(`packfile ${packOf(5).slice(0, 16)} is missing`)
      expect(again.blobs.get(Buffer.from(refs[4][0]).toString('hex'))?.toString()).toBe(contents[4])
    } finally {
      await repo.close()
    }
  })
})
