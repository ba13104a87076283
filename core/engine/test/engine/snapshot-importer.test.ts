import {randomBytes} from 'node:crypto'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {type Importer, type ImportRecord, isScanError} from '@plakar/sdk'
import {backup} from '../../src/engine/backup.js'
import {Snapshot} from '../../src/engine/snapshot.js'
import {SnapshotImporter} from '../../src/engine/sync.js'
import {BlobType} from '../../src/format/blob-type.js'
import {Repository} from '../../src/repository/repository.js'
import {MemoryStorage} from '../memory-storage.js'

const quiet = {debug() {}, info() {}, warn() {}}
const FILES = 12
const FILE_SIZE = 512 * 1024
const LIMIT = 128 * 1024

const contents = Array.from({length: FILES}, () => randomBytes(FILE_SIZE))

function importer(): Importer {
  return {
    type: 'test',
    origin: 'here',
    root: '/r',
    async *scan() {
      yield {path: '/r', info: {type: 'directory', size: 0, mode: 0o755, mtime: 1}}
      for (const [i, data] of contents.entries()) {
        yield {path: `/r/f${i}`, info: {type: 'file', size: data.length, mode: 0o644, mtime: 1}, open: async () => Readable.from([data])}
      }
    },
    async close() {},
  }
}

/**
 * A re-encoding sync reads the source snapshot through a SnapshotImporter while the backup
 * streams many files at once. What those files hold, read ahead of the backup, must be bounded
 * by the importer's budget, whatever the number of files: before, each held two ranges, and a
 * 1.5 GB tree of 64 MiB files took 1.26 GB of memory.
 */
describe('SnapshotImporter read-ahead', () => {
  let work: string
  let storage: MemoryStorage
  let repo: Repository
  let snapshot: Snapshot
  /** Sealed bytes of data packfile ranges asked of the storage so far. */
  let requested = 0

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'plakar-snapshot-importer-'))
    storage = new MemoryStorage()
    // Small packfiles: a file spans many of them, so it is read as many ranges.
    await Repository.create(storage, {packfileSize: 32 * 1024, chunking: {algorithm: 'fastcdc', min: 2048, avg: 8192, max: 32768}, compression: {algorithm: 'none', level: 0}})
    repo = await Repository.open(storage, {cacheDir: join(work, 'cache'), passphrase: async () => Buffer.alloc(0), logger: quiet})
    // One file at a time: each file's chunks lie next to each other, so every byte of a range
    // asked for belongs to a chunk that is read.
    const result = await backup(repo, [importer()], {tmpDir: work, concurrency: 1})
    snapshot = new Snapshot(repo, result.snapshot!)
    // Chunks only: a file's chunk list is a metadata blob, read before its content.
    storage.beforeGet = (kind, id, range) => {
      if (kind === 'packfile' && range && repo.cache.packKind(id) === 'data') requested += range.length
    }
  })
  afterAll(async () => {
    await repo.close()
    rmSync(work, {recursive: true, force: true})
  })

  /**
   * Reads every file at once, as the backup does, one chunk per turn each; returns the most
   * sealed bytes ever asked of the storage and not yet consumed, and checks the content.
   */
  async function readAllAtOnce(open: (record: ImportRecord) => Promise<Readable>): Promise<number> {
    const records: ImportRecord[] = []
    for await (const item of new SnapshotImporter(snapshot).scan({signal: new AbortController().signal})) {
      if (!isScanError(item) && item.info.type === 'file') records.push(item)
    }
    expect(records).toHaveLength(FILES)
    requested = 0
    let consumed = 0
    let peak = 0
    const sample = () => (peak = Math.max(peak, requested - consumed))
    const previous = storage.beforeGet!
    storage.beforeGet = (kind, id, range) => {
      previous(kind, id, range)
      sample()
    }
    try {
      await Promise.all(
        records.map(async (record) => {
          const parts: Buffer[] = []
          for await (const chunk of await open(record)) {
            const plain = chunk as Buffer
            parts.push(plain)
            consumed += repo.cache.locate(BlobType.CHUNK, repo.keys.blobMac.digest(plain))!.length
            sample()
            await new Promise((resolve) => setImmediate(resolve))
          }
          expect(Buffer.concat(parts).equals(contents[Number(record.path.slice('/r/f'.length))])).toBe(true)
        }),
      )
    } finally {
      storage.beforeGet = previous
    }
    expect(consumed).toBe(requested)
    return peak
  }

  it('holds at most its budget between all the files it streams', async () => {
    const importer = new SnapshotImporter(snapshot, LIMIT)
    const opened = new Map<string, ImportRecord>()
    for await (const item of importer.scan({signal: new AbortController().signal})) if (!isScanError(item)) opened.set(item.path, item)
    const peak = await readAllAtOnce((record) => opened.get(record.path)!.open!())
    expect(peak).toBeGreaterThan(0)
    expect(peak).toBeLessThanOrEqual(LIMIT)
    expect(importer.readAhead.used).toBe(0)
  })

  it('(the same files read without a budget hold far more: what the bound prevents)', async () => {
    const peak = await readAllAtOnce(async (record) => snapshot.open(await snapshot.requireEntry(record.path)))
    expect(peak).toBeGreaterThan(4 * LIMIT)
  })
})
