import {mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {randomBytes} from 'node:crypto'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {BlobType} from '../../src/format/blob-type.js'
import {Repository} from '../../src/repository/repository.js'
import {MAX_PACK_BLOBS, RepositoryWriter} from '../../src/repository/writer.js'
import {readPackfileIndex} from '../../src/format/packfile.js'
import {sealBlob} from '../../src/format/blob.js'
import {MemoryStorage} from '../memory-storage.js'
import {ExitCode, exitCodeOf, IntegrityError} from '@plakar/sdk'

const quiet = {debug() {}, info() {}, warn() {}}

describe('RepositoryWriter', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'plakar-writer-'))
  })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  const open = async (storage: MemoryStorage, cache = 'cache') =>
    Repository.open(storage, {cacheDir: join(dir, cache), passphrase: async () => Buffer.alloc(0), logger: quiet})

  it('never names a snapshot after a state listing its packfiles failed to be written', async () => {
    const storage = new MemoryStorage()
    // One blob per packfile, so that every put stores a packfile and publishes the previous one.
    await Repository.create(storage, {packfileSize: 1})
    const repo = await open(storage)
    const writer = new RepositoryWriter(repo, {host: 'test', uploads: 1, publishEvery: 1})
    let failures = 1
    storage.beforePut = (kind) => {
      if (kind === 'state' && failures-- > 0) throw new Error('network cut while writing a state')
    }
    const a = await writer.put(BlobType.CHUNK, Buffer.from('first blob'))
    // The state listing the first packfile fails while the second blob is stored.
    await writer.put(BlobType.CHUNK, Buffer.from('second blob')).catch(() => {})
    // Later files of the backup may deduplicate against the first blob (it is "pending").
    const committed = await writer
      .commit({id: Buffer.alloc(32, 1), header: a.mac, time: Date.now()})
      .then(() => true)
      .catch(() => false)
    await repo.close()

    // Whatever the writer decided, a client that opens the repository afresh must be able to
    // read every blob of any snapshot it can see.
    const reader = await open(storage, 'other-cache')
    try {
      if (committed) expect(reader.cache.locate(BlobType.CHUNK, a.mac), 'the first blob is listed').toBeDefined()
      else expect(reader.cache.snapshots()).toEqual([])
    } finally {
      await reader.close()
    }
  })

  it('holds at most a few packfiles in memory when the storage is slower than the source', async () => {
    const storage = new MemoryStorage()
    const maxSize = 4096
    await Repository.create(storage, {packfileSize: maxSize, compression: {algorithm: 'none', level: 0}})
    const repo = await open(storage)
    const writer = new RepositoryWriter(repo, {host: 'test', uploads: 2})
    let unblock!: () => void
    const blocked = new Promise<void>((resolve) => (unblock = resolve))
    let uploading = 0
    let bothUploading!: () => void
    const full = new Promise<void>((resolve) => (bothUploading = resolve))
    storage.beforePut = (kind) => {
      if (kind !== 'packfile') return undefined
      if (++uploading === 2) bothUploading()
      return blocked
    }
    // 64 files being backed up at once (the backup's task pool), each of 16 blobs of 512 bytes.
    const blobs: Buffer[][] = Array.from({length: 64}, () => Array.from({length: 16}, () => randomBytes(512)))
    const files = blobs.map(async (file) => {
      for (const blob of file) await writer.put(BlobType.CHUNK, blob)
    })
    // Both upload slots are taken; then let the writers run until none makes progress (no I/O
    // and no timer is involved, so a turn of the event loop without a new byte means they wait).
    await full
    for (let before = -1; before !== writer.stats.addedBytes; ) {
      before = writer.stats.addedBytes
      await new Promise((resolve) => setImmediate(resolve))
    }
    expect(writer.stats.addedBytes).toBeGreaterThan(2 * maxSize)
    // Nothing is stored yet: what the writer accepted is what it holds in memory, two
    // packfiles being uploaded and one being filled.
    expect(writer.stats.addedBytes).toBeLessThanOrEqual(4 * maxSize)
    unblock()
    await Promise.all(files)
    await writer.commit()
    for (const blob of blobs.flat()) expect(repo.cache.locate(BlobType.CHUNK, writer.mac(blob))).toBeDefined()
    await repo.close()
  })

  it('closes a packfile of tiny blobs at its blob limit and publishes it, so that pending blobs stay bounded', async () => {
    const storage = new MemoryStorage()
    await Repository.create(storage, {compression: {algorithm: 'none', level: 0}})
    const repo = await open(storage)
    // The mechanism with a lower limit than MAX_PACK_BLOBS: a hundred thousand blobs sealed on
    // one thread took two minutes on a busy machine.
    const limit = 500
    expect(limit).toBeLessThan(MAX_PACK_BLOBS)
    const writer = new RepositoryWriter(repo, {host: 'test', maxPackBlobs: limit})
    const count = 3 * limit + 100
    for (let i = 0; i < count; i++) await writer.put(BlobType.CHUNK, Buffer.from(`tiny blob ${i}`))
    // Far below the 16 MiB size limit, packfiles are full by count, and a stored one is
    // published at the next rotation, not after four of them.
    const published = storage.objects.state.size
    await writer.commit()
    const packs = repo.cache.packfiles().filter((p) => p.kind === 'data')
    expect(packs.map((p) => repo.cache.blobsOfPack(p.id).length).sort((a, b) => b - a)).toEqual([limit, limit, limit, 100])
    expect(published).toBeGreaterThanOrEqual(1)
    await repo.close()
  })

  it('putSealedNow answers at once while a packfile fills, and with a promise when the blob fills it or must wait for an upload slot', async () => {
    const storage = new MemoryStorage()
    const maxSize = 4096
    await Repository.create(storage, {packfileSize: maxSize, compression: {algorithm: 'none', level: 0}})
    const repo = await open(storage)
    const writer = new RepositoryWriter(repo, {host: 'test', uploads: 1})
    let unblock!: () => void
    const blocked = new Promise<void>((resolve) => (unblock = resolve))
    storage.beforePut = (kind) => (kind === 'packfile' ? blocked : undefined)
    const blobs = Array.from({length: 12}, () => randomBytes(900))
    const put = (blob: Buffer) => writer.putSealedNow(BlobType.CHUNK, writer.mac(blob), sealBlob(repo.keys, repo.compressor, BlobType.CHUNK, writer.mac(blob), blob), blob.length, true)
    // About 950 sealed bytes each: four fit in the packfile, the fifth fills it.
    const answers = blobs.slice(0, 4).map(put)
    expect(answers).toEqual([true, true, true, true])
    // The same blob again, pending in this writer: not new, answered at once.
    expect(put(blobs[0])).toBe(false)
    const filling = put(blobs[4])
    expect(filling).toBeInstanceOf(Promise)
    // The first packfile is being stored (its upload blocked), the only slot: it resolves.
    await filling
    for (const blob of blobs.slice(5, 9)) expect(put(blob)).toBe(true)
    // The next one would fill the second packfile while no slot is free: it waits for the upload.
    let waited = false
    const waiting = (put(blobs[9]) as Promise<boolean>).then((added) => (waited = added))
    await new Promise((resolve) => setImmediate(resolve))
    expect(waited).toBe(false)
    unblock()
    await waiting
    expect(waited).toBe(true)
    for (const blob of blobs.slice(10)) await put(blob)
    await writer.commit()
    for (const blob of blobs) expect(repo.cache.locate(BlobType.CHUNK, writer.mac(blob))).toBeDefined()
    await repo.close()
  })

  it('tells the storage what each packfile holds, as its sealed index says', async () => {
    const storage = new MemoryStorage()
    await Repository.create(storage, {packfileSize: 4096})
    const repo = await open(storage)
    const writer = new RepositoryWriter(repo, {host: 'test'})
    for (let i = 0; i < 20; i++) {
      await writer.put(BlobType.CHUNK, randomBytes(1024))
      await writer.put(BlobType.VFS_NODE, randomBytes(700))
    }
    await writer.put(BlobType.SNAPSHOT, randomBytes(300))
    await writer.commit()
    const kinds = {data: 0, meta: 0}
    for (const [id, bytes] of storage.objects.packfile) {
      const {kind} = readPackfileIndex(repo.keys, bytes)
      // A cold storage archives what the engine calls data: metadata must never be called so.
      expect(storage.putOptions.get(id), `packfile ${id.slice(0, 8)}`).toEqual({packfileKind: kind})
      kinds[kind]++
    }
    expect(kinds.data).toBeGreaterThan(1)
    expect(kinds.meta).toBeGreaterThan(1)
    await repo.close()
  })

  it('keeps each lane\'s data blobs together, in the order they came, in packfiles of their own; metadata in one for all', async () => {
    const storage = new MemoryStorage()
    await Repository.create(storage, {packfileSize: 16 * 1024, compression: {algorithm: 'none', level: 0}})
    const repo = await open(storage)
    const writer = new RepositoryWriter(repo, {host: 'test'})
    const lanes: string[][] = [[], [], []]
    const seal = (type: number, plaintext: Buffer) => {
      const mac = writer.mac(plaintext)
      return {mac, sealed: sealBlob(repo.keys, repo.compressor, type, mac, plaintext), raw: plaintext.length}
    }
    // Two workers' chunks interleaved as they arrive (a third lane, 2, now and then), with
    // metadata in between: 3 × 40 blobs of 1 KiB, several packfiles per lane.
    for (let i = 0; i < 40; i++) {
      for (const lane of i % 5 === 0 ? [0, 1, 2] : [0, 1]) {
        const {mac, sealed, raw} = seal(BlobType.CHUNK, randomBytes(1024))
        await writer.putSealedNow(BlobType.CHUNK, mac, sealed, raw, false, lane)
        lanes[lane].push(mac.toString('hex'))
      }
      await writer.put(BlobType.VFS_NODE, randomBytes(200))
    }
    await expect(writer.putSealed(BlobType.CHUNK, Buffer.alloc(32), Buffer.alloc(64), 10, false, 64)).rejects.toThrow(/lane 64/)
    await writer.commit()
    const laneOf = new Map(lanes.flatMap((macs, lane) => macs.map((mac) => [mac, lane] as const)))
    const seen: string[][] = [[], [], []]
    let meta = 0
    for (const [, bytes] of storage.objects.packfile) {
      const {kind, blobs} = readPackfileIndex(repo.keys, bytes)
      if (kind === 'meta') {
        meta++
        expect(blobs.every((b) => b.type === BlobType.VFS_NODE)).toBe(true)
        continue
      }
      const owners = new Set(blobs.map((b) => laneOf.get(b.mac.toString('hex'))))
      expect([...owners], 'one lane per data packfile').toHaveLength(1)
      const lane = [...owners][0]!
      seen[lane].push(...blobs.sort((a, b) => a.offset - b.offset).map((b) => b.mac.toString('hex')))
    }
    expect(meta).toBeGreaterThan(0)
    // Packfiles of a lane stored in order; inside each, the blobs in the order they were put.
    for (const [lane, macs] of lanes.entries()) expect(new Set(seen[lane]), `lane ${lane}`).toEqual(new Set(macs))
    for (const [lane, macs] of seen.entries()) {
      const order = macs.map((mac) => lanes[lane].indexOf(mac))
      const runs = order.filter((at, i) => i > 0 && at !== order[i - 1] + 1).length
      // Packfiles may be listed in any order: the breaks are between packfiles only.
      expect(runs, `lane ${lane}`).toBeLessThan(Math.max(1, storage.objects.packfile.size))
    }
    await repo.close()
  })

  it('fills data packfiles in its spill directory: stored whole, each named by the MAC of its bytes, and no file left behind, stored or not', async () => {
    const storage = new MemoryStorage()
    await Repository.create(storage, {packfileSize: 3 * 1024 * 1024, compression: {algorithm: 'none', level: 0}})
    const repo = await open(storage)
    const spillDir = join(dir, 'spill')
    mkdirSync(spillDir)
    const writer = new RepositoryWriter(repo, {host: 'test', spillDir})
    // Blobs smaller and larger than the spill file's 1 MiB write batches.
    const chunks = [...Array.from({length: 300}, (_, i) => randomBytes(100 + i * 37)), randomBytes(1536 * 1024), randomBytes(2 * 1024 * 1024), randomBytes(5000)]
    for (const chunk of chunks) await writer.put(BlobType.CHUNK, chunk)
    const header = await writer.put(BlobType.SNAPSHOT, randomBytes(300))
    // The packfile being filled is there, and those being stored, until they are.
    expect(readdirSync(spillDir).length).toBeGreaterThanOrEqual(1)
    await writer.commit({id: Buffer.alloc(32, 2), header: header.mac, time: Date.now()})
    expect(readdirSync(spillDir)).toEqual([])
    let data = 0
    for (const [id, bytes] of storage.objects.packfile) {
      expect(repo.keys.objectMac.digest(bytes).toString('hex')).toBe(id)
      if (readPackfileIndex(repo.keys, bytes).kind === 'data') data++
    }
    expect(data).toBeGreaterThan(1)
    await repo.close()
    const reader = await open(storage, 'other-cache')
    try {
      for (const chunk of chunks) expect((await reader.reader.read(BlobType.CHUNK, reader.keys.blobMac.digest(chunk))).equals(chunk)).toBe(true)
    } finally {
      await reader.close()
    }

    // A backup that fails leaves nothing in the spill directory either: neither the packfile
    // whose store failed nor the one being filled.
    const failing = await open(storage, 'third-cache')
    storage.beforePut = (kind) => {
      if (kind === 'packfile') throw Object.assign(new Error('no space left on device'), {code: 'ENOSPC'})
    }
    const doomed = new RepositoryWriter(failing, {host: 'test', spillDir})
    // Puts go on until the failed store is noticed (uploads run behind the puts).
    const failure = await (async () => {
      for (let i = 0; i < 200; i++) await doomed.put(BlobType.CHUNK, randomBytes(100_000))
    })().then(
      () => doomed.failure,
      (error: unknown) => error,
    )
    expect(failure).toMatchObject({code: 'ENOSPC'})
    await doomed.abandon(failure)
    expect(readdirSync(spillDir)).toEqual([])
    await failing.close()
  })

  it('a spilled packfile whose bytes changed on the local disk before its store fails the store: nothing is stored under an id its bytes do not match', async () => {
    const storage = new MemoryStorage()
    await Repository.create(storage, {packfileSize: 1024 * 1024, compression: {algorithm: 'none', level: 0}})
    const repo = await open(storage)
    const spillDir = join(dir, 'spill')
    mkdirSync(spillDir)
    const put = storage.put.bind(storage)
    let damaged = 0
    storage.put = async (kind, id, data, size, options) => {
      // The first packfile to be stored: one byte of its spilled file flipped before it is read.
      if (kind === 'packfile' && damaged === 0) {
        const [file] = readdirSync(spillDir).map((name) => join(spillDir, name)).sort()
        const bytes = readFileSync(file)
        bytes[bytes.length >> 1] ^= 0x40
        writeFileSync(file, bytes)
        damaged++
      }
      return put(kind, id, data, size, options)
    }
    const writer = new RepositoryWriter(repo, {host: 'test', spillDir, uploads: 1})
    const failure = await (async () => {
      for (let i = 0; i < 100; i++) await writer.put(BlobType.CHUNK, randomBytes(100_000))
      return writer.failure
    })().catch((error: unknown) => error)
    expect(damaged).toBe(1)
    expect(failure).toBeInstanceOf(IntegrityError)
    expect(exitCodeOf(failure)).toBe(ExitCode.INTEGRITY)
    expect((failure as Error).message).toMatch(/^packfile [0-9a-f]{16} changed on the local disk \(.+\) before it was stored: check that disk, then run the backup again$/)
    await writer.abandon(failure)
    // Whatever was stored matches its id.
    for (const [id, bytes] of storage.objects.packfile) expect(repo.keys.objectMac.digest(bytes).toString('hex')).toBe(id)
    expect(readdirSync(spillDir)).toEqual([])
    await repo.close()
  })

})
