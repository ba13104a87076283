import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {randomBytes} from 'node:crypto'
import type {Readable} from 'node:stream'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {BlobType} from '../../src/format/blob-type.js'
import {emptyDelta} from '../../src/format/state.js'
import {Repository} from '../../src/repository/repository.js'
import {RepositoryWriter} from '../../src/repository/writer.js'
import {MemoryStorage} from '../memory-storage.js'

const quiet = {debug() {}, info() {}, warn() {}}

/** A memory storage that records how many states are being read at once. */
class CountingStorage extends MemoryStorage {
  reading = 0
  finished = 0
  /** Most states read at once. */
  most = 0
  /** Most states being read when a read started after the first one had finished. */
  mostLater = 0

  override async get(kind: 'packfile' | 'state' | 'lock', id: string, range?: {offset: number; length: number}): Promise<Readable> {
    if (kind !== 'state') return super.get(kind, id, range)
    this.reading++
    this.most = Math.max(this.most, this.reading)
    if (this.finished > 0) this.mostLater = Math.max(this.mostLater, this.reading)
    const stream = await super.get(kind, id, range)
    stream.once('end', () => {
      this.reading--
      this.finished++
    })
    return stream
  }
}

/**
 * A cold cache merges every state of the storage, many per transaction (hourly backups leave
 * thousands of small states before the first compaction): what one transaction merges must be
 * what merging them one by one gives, and a damaged state among them must cost only itself.
 */
describe('refresh of a cold cache', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'plakar-refresh-'))
  })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))
  const open = (storage: MemoryStorage, cache: string) => Repository.open(storage, {cacheDir: join(dir, cache), passphrase: async () => Buffer.alloc(0), logger: quiet})

  it('merges 300 small states as one client that wrote them knows them; a damaged one is reported, the others kept', async () => {
    const storage = new CountingStorage()
    await Repository.create(storage, {})
    const writer = await open(storage, 'writer')
    const written: {id: string; state: string; blob: Buffer}[] = []
    for (let i = 0; i < 300; i++) {
      const before = new Set(storage.objects.state.keys())
      const w = new RepositoryWriter(writer, {host: 'test'})
      const {mac} = await w.put(BlobType.SNAPSHOT, randomBytes(64))
      const id = randomBytes(32)
      await w.commit({id, header: mac, time: 1_000 + i})
      const state = [...storage.objects.state.keys()].find((s) => !before.has(s))!
      written.push({id: id.toString('hex'), state, blob: mac})
    }
    const rows = (r: Repository) => r.cache.snapshots().map((s) => `${s.id.toString('hex')}:${s.header.toString('hex')}:${s.time}`)
    const fresh = await open(storage, 'fresh')
    // Small states are read several at once (a remote storage's latency).
    expect(storage.mostLater).toBeGreaterThan(1)
    expect(fresh.damagedStates).toEqual([])
    expect(rows(fresh)).toEqual(rows(writer))
    expect(fresh.cache.knownStates()).toEqual(writer.cache.knownStates())
    for (const {blob} of written) expect(fresh.cache.locate(BlobType.SNAPSHOT, blob)).toEqual(writer.cache.locate(BlobType.SNAPSHOT, blob))
    await fresh.close()

    // One state in the middle damaged: only its snapshot is missing, and it is named.
    const victim = written[150]
    const bytes = Buffer.from(storage.objects.state.get(victim.state)!)
    bytes[bytes.length - 1] ^= 1
    storage.objects.state.set(victim.state, bytes)
    const cold = await open(storage, 'cold')
    expect(cold.damagedStates.map((d) => d.id)).toEqual([victim.state])
    expect(cold.cache.snapshots().map((s) => s.id.toString('hex'))).toEqual(written.filter((w) => w !== victim).map((w) => w.id))
    await cold.close()
    await writer.close()
  })

  it('reads states of over 1 MB one at a time once it has seen one, and merges them whole', async () => {
    const storage = new CountingStorage()
    await Repository.create(storage, {})
    const writer = await open(storage, 'writer')
    // As a backup of small files writes them: a packfile's whole index in one state.
    for (let i = 0; i < 10; i++) {
      const delta = emptyDelta('test')
      const blobs = Array.from({length: 26_000}, (_, n) => [BlobType.CHUNK, randomBytes(32), n * 100, 100, 64] as [number, Buffer, number, number, number])
      delta.packfiles.push({id: randomBytes(32).toString('hex'), kind: 'data', blobs})
      await writer.writeState(delta)
    }
    expect(Math.min(...[...storage.objects.state.values()].map((b) => b.length))).toBeGreaterThan(1024 * 1024)
    const fresh = await open(storage, 'fresh')
    expect(storage.most).toBeGreaterThan(1) // before any size is known
    expect(storage.mostLater).toBe(1)
    expect(fresh.cache.stats()).toEqual(writer.cache.stats())
    expect(fresh.cache.knownStates()).toEqual(writer.cache.knownStates())
    await fresh.close()
    await writer.close()
  })
})
