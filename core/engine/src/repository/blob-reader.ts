import {availableParallelism} from 'node:os'
import {type Budget, IntegrityError, isFatal, isNotFound, mapConcurrent, readAll} from '@plakar/sdk'
import {openBlob} from '../format/blob.js'
import {openFooter, parityOf} from '../format/packfile.js'
import {repairWithParity} from '../format/parity.js'
import {BlobType} from '../format/blob-type.js'
import {DecodePool, type DecodeBlob, type DecodePlace} from './decode-pool.js'
import {RangeBuffers} from './range-buffers.js'
import type {Repository} from './repository.js'
import type {BlobLocation} from './cache.js'

/**
 * Reads many blobs with few requests: blobs are located in the cache, grouped by packfile,
 * sorted by offset, and neighbours (gaps up to MAX_GAP) are fetched as one range of at most
 * MAX_RANGE bytes. On a remote storage this is the difference between one request per chunk
 * and one per few megabytes (restic's restore is fast for the same reason).
 */
export const MAX_GAP = 256 * 1024
export const MAX_RANGE = 8 * 1024 * 1024

export interface Located {
  key: string
  mac: Buffer
  pack: string
  offset: number
  length: number
}

export interface PlannedRange {
  pack: string
  offset: number
  length: number
  blobs: Located[]
}

/** Groups located blobs into ranges; each blob appears once. */
export function planRanges(blobs: Located[], maxGap = MAX_GAP, maxRange = MAX_RANGE): PlannedRange[] {
  const byPack = new Map<string, Located[]>()
  for (const b of blobs) {
    const list = byPack.get(b.pack)
    if (list) list.push(b)
    else byPack.set(b.pack, [b])
  }
  const ranges: PlannedRange[] = []
  for (const [pack, list] of byPack) {
    list.sort((a, b) => a.offset - b.offset)
    let current: PlannedRange | undefined
    for (const b of list) {
      const end = b.offset + b.length
      if (current && b.offset - (current.offset + current.length) <= maxGap && end - current.offset <= maxRange) {
        current.length = Math.max(current.length, end - current.offset)
        current.blobs.push(b)
      } else {
        current = {pack, offset: b.offset, length: b.length, blobs: [b]}
        ranges.push(current)
      }
    }
  }
  return ranges
}

/** Bytes read ahead once single-blob reads walk a packfile forwards, and how many such windows are kept. */
const READ_AHEAD = 512 * 1024
const WINDOWS = 4

interface Window {
  pack: string
  offset: number
  length: number
  bytes: Promise<Buffer>
}

/** The key blobs are returned by: the hex MAC. */
export function blobKey(mac: Uint8Array): string {
  return Buffer.from(mac).toString('hex')
}

/**
 * The one way blobs are read back: ranges of packfiles fetched from the storage (coalesced when
 * many blobs are wanted), opened — authenticated, decrypted, decompressed and re-MACed — on the
 * decoding workers (or on this thread for a single small blob), with one set of messages for a
 * missing or damaged packfile. Restore, check, cat, diff, the archive and the web UI (through
 * Snapshot.open), tree reads and sync all come here. Owned by the repository, closed with it.
 */
export class BlobReader {
  readonly #repo: Repository
  #decoder: DecodePool | undefined
  /**
   * Set while a cold storage thaws what a command reads (engine/thaw.ts): the promise of a
   * packfile still archived, which settles when it is readable (or the thaw fails). Reads of
   * other packfiles go ahead, so the command proceeds as packfiles become readable.
   */
  waitFor: ((pack: string) => Promise<void> | undefined) | undefined
  /** Where the last single-blob read ended, to notice reads that walk a packfile forwards. */
  #lastRead: {pack: string; end: number} | undefined
  /** Bytes read ahead by single-blob reads, most recent last. */
  #windows: Window[] = []
  readonly #packEnds = new Map<string, number>()
  /**
   * How many decoding workers start with the first read that needs them (later, no effect), and
   * whether this thread decodes too when they are all busy (DecodePool): a core's worth of
   * decoding without an isolate of its own.
   */
  decodeWorkers = Math.max(1, availableParallelism() - 1)
  decodeHere = true
  /** The buffers `fetch` and `chunks` read ranges into, handed back once their blobs are opened. */
  readonly #buffers = new RangeBuffers()

  constructor(repo: Repository) {
    this.#repo = repo
  }

  /** Decoding workers, started on first use. */
  get #pool(): DecodePool {
    this.#decoder ??= new DecodePool(this.#repo, this.decodeWorkers, this.decodeHere, undefined, this.#buffers)
    return this.#decoder
  }

  /** Bytes of a packfile, as stored (sealed): what sync copies to a peer as they are. */
  /** Resolves once `pack` is readable: at once, unless a thaw still holds it (waitFor). */
  async ready(pack: string): Promise<void> {
    const thawing = this.waitFor?.(pack)
    if (thawing) await thawing
  }

  /** Bytes of a packfile, in a buffer of their own that the caller keeps. */
  async range(pack: string, offset: number, length: number): Promise<Buffer> {
    return this.#readRange(pack, offset, Buffer.allocUnsafeSlow(length))
  }

  /** Bytes of a packfile from `offset`, `into.length` of them, read into `into`. */
  async #readRange(pack: string, offset: number, into: Buffer): Promise<Buffer> {
    await this.ready(pack)
    const storage = this.#repo.storage
    try {
      // Straight into the buffer where the storage can (a local directory): the stream's pieces
      // copied into it, and the buffer's fresh pages faulted in, cost a restore's main thread
      // 5 % (source tree); with readInto the kernel fills the buffer on the thread pool.
      if (storage.readInto) {
        await storage.readInto('packfile', pack, into, {offset})
        return into
      }
      return await readAll(await storage.get('packfile', pack, {offset, length: into.length}), into.length, into)
    } catch (error) {
      if (isNotFound(error)) throw new IntegrityError(`packfile ${pack.slice(0, 16)} is missing`, {cause: error})
      if ((error as {code?: string}).code === 'ESHORTREAD') {
        throw new IntegrityError(`packfile ${pack.slice(0, 16)} is truncated`, {cause: error})
      }
      throw error
    }
  }

  /**
   * One blob, opened on this thread: tree nodes, headers and chunk lists are small, and a round
   * trip to a worker would cost more than opening them.
   */
  async read(type: number, mac: Buffer, options: {includeMarked?: boolean} = {}): Promise<Buffer> {
    // Maintenance reads what snapshots reference even from packfiles it marked: a blob found
    // there is what un-marks them.
    const loc = options.includeMarked ? this.#repo.cache.locateAny(type, mac) : this.#repo.cache.locate(type, mac)
    if (!loc) throw new IntegrityError(this.#repo.missingBlob(type, mac))
    const sealed = await this.#sealed(loc.pack, loc.offset, loc.length)
    try {
      return openBlob(this.#repo.keys, this.#repo.compressor, type, mac, sealed)
    } catch (error) {
      if (!(error instanceof IntegrityError) || type === BlobType.CHUNK) throw error
      const repaired = await this.#repairFromParity(loc.pack, loc.offset, loc.length).catch((why: unknown) => {
        if (isFatal(why)) throw why
        this.#repo.logger.debug(`parity of packfile ${loc.pack.slice(0, 16)} cannot help: ${(why as Error).message}`)
        return undefined
      })
      if (!repaired) throw error
      const plain = openBlob(this.#repo.keys, this.#repo.compressor, type, mac, repaired)
      this.#repo.logger.warn(
        `${(error as Error).message}: repaired from the parity of packfile ${loc.pack.slice(0, 16)}; run "plakar check" to see what else is damaged`,
      )
      return plain
    }
  }

  /**
   * One blob's sealed bytes. A tree is written node after node, so reading one in order (a
   * backup looking up its parent, a walk) asks for blobs that follow each other in a packfile:
   * once two reads go forwards in the same packfile, the next read fetches READ_AHEAD bytes at
   * once and the following blobs come from memory. Each storage read opens the packfile: one
   * per node cost 7.6 % of an unchanged re-backup's main thread.
   */
  async #sealed(pack: string, offset: number, length: number): Promise<Buffer> {
    for (const w of this.#windows) {
      if (w.pack === pack && offset >= w.offset && offset + length <= w.offset + w.length) {
        this.#lastRead = {pack, end: offset + length}
        return (await w.bytes).subarray(offset - w.offset, offset - w.offset + length)
      }
    }
    const last = this.#lastRead
    this.#lastRead = {pack, end: offset + length}
    const forwards = last?.pack === pack && offset >= last.end && offset - last.end < READ_AHEAD
    if (!forwards || length >= READ_AHEAD) return this.range(pack, offset, length)
    let end = this.#packEnds.get(pack)
    if (end === undefined || end < offset + length) {
      end = this.#repo.cache.packfileEnd(pack)
      this.#packEnds.set(pack, end)
    }
    const window: Window = {pack, offset, length: Math.max(length, Math.min(READ_AHEAD, end - offset)), bytes: Promise.resolve(Buffer.alloc(0))}
    window.bytes = this.range(pack, offset, window.length)
    this.#windows.push(window)
    if (this.#windows.length > WINDOWS) this.#windows.shift()
    try {
      return (await window.bytes).subarray(0, length)
    } catch (error) {
      this.#windows = this.#windows.filter((w) => w !== window)
      throw error
    }
  }

  /**
   * The sealed bytes of one blob of a metadata packfile, rebuilt from the packfile's parity
   * section (docs/format.md §7.1), or undefined when the packfile has none. Reads the footer,
   * the index, the blob region and the parity: a rare path, for a damaged packfile only.
   */
  async #repairFromParity(pack: string, offset: number, length: number): Promise<Buffer | undefined> {
    const keys = this.#repo.keys
    const {size} = await this.#repo.storage.stat('packfile', pack)
    if (size < 4) return undefined
    const footerLength = (await this.range(pack, size - 4, 4)).readUInt32BE(0)
    if (footerLength > 4096 || footerLength > size - 4) return undefined
    const footer = openFooter(keys, await this.range(pack, size - 4 - footerLength, footerLength))
    const parity = parityOf(keys, await this.range(pack, footer.indexOffset, footer.indexLength), footer)
    if (!parity || offset + length > parity.offset) return undefined
    const {data, repaired} = repairWithParity(await this.range(pack, 0, parity.offset), await this.range(pack, parity.offset, parity.length))
    if (repaired === 0) return undefined
    return data.subarray(offset, offset + length)
  }

  /**
   * Many blobs of one type (deduplicated by MAC), plaintexts by blobKey. A blob that cannot be
   * read or authenticated is absent from `blobs` and its reason is in `failed`, so one bad chunk
   * costs only the files that use it; a fatal storage error (unreachable) is thrown.
   */
  async fetch(type: number, macs: Uint8Array[], concurrency = 8): Promise<{blobs: Map<string, Buffer>; failed: Map<string, string>}> {
    const byKey = new Map<string, Buffer>()
    for (const raw of macs) {
      const key = blobKey(raw)
      if (!byKey.has(key)) byKey.set(key, Buffer.from(raw))
    }
    const unique = [...byKey]
    const locations = this.#repo.cache.locateAll(type, unique.map(([, mac]) => mac))
    return this.#fetchLocated(type, unique.map(([key, mac], i) => ({key, mac, location: locations[i]})), concurrency)
  }

  /** `fetch` of blobs already located (`location` undefined: not in the index). Each key once. */
  async #fetchLocated(
    type: number,
    located: {key: string; mac: Buffer; location: BlobLocation | undefined}[],
    concurrency: number,
  ): Promise<{blobs: Map<string, Buffer>; failed: Map<string, string>}> {
    const blobs = new Map<string, Buffer>()
    const failed = new Map<string, string>()
    const wanted: Located[] = []
    for (const {key, mac, location: loc} of located) {
      if (!loc) failed.set(key, this.#repo.missingBlob(type, mac, type === BlobType.CHUNK ? 'chunk' : 'blob'))
      else wanted.push({key, mac, pack: loc.pack, offset: loc.offset, length: loc.length})
    }
    await mapConcurrent(planRanges(wanted), concurrency, async (range) => {
      // A range buffer: the decoding pool hands it back once the blobs are opened.
      let data = this.#buffers.take(range.length)
      try {
        data = await this.#readRange(range.pack, range.offset, data)
      } catch (error) {
        // Not handed back: a read that failed could still be writing into it.
        if (isFatal(error)) throw error
        for (const b of range.blobs) failed.set(b.key, (error as Error).message)
        return
      }
      const list = range.blobs.map((b) => ({type, mac: b.mac, offset: b.offset - range.offset, length: b.length}))
      const {plaintexts, errors} = await this.#pool.decode(data, list)
      range.blobs.forEach((b, i) => {
        const plain = plaintexts[i]
        if (plain) blobs.set(b.key, plain)
        else failed.set(b.key, errors.get(i) ?? 'unreadable')
      })
    })
    return {blobs, failed}
  }

  /**
   * The plaintexts of these chunks, in order (a file's content). Consecutive chunks stored next
   * to each other are fetched as one range, with the next `ahead` ranges read while the current
   * one is consumed. Throws IntegrityError at the first chunk that cannot be read.
   *
   * `readAhead` bounds what the streams sharing it hold: a range is charged its sealed bytes
   * and its plaintexts from before it is fetched until its last chunk is consumed. A stream
   * waits for room for the range it needs next; ranges further ahead are read only when there
   * is room at once (a stream waiting while it holds some could wait on streams waiting
   * likewise). Without it, every stream holds up to `ahead` ranges of MAX_RANGE: with dozens of
   * large files streamed at once (a re-encoding sync), that was most of the process's memory.
   */
  async *chunks(macs: Uint8Array[], options: {ahead?: number; readAhead?: Budget} = {}): AsyncGenerator<Buffer> {
    const {ahead = 2, readAhead} = options
    const repo = this.#repo
    // Each chunk is located once, here, in batches; its run is fetched with that location.
    type Chunk = {key: string; mac: Buffer; location: BlobLocation | undefined}
    const runs: {chunks: Chunk[]; cost: number}[] = []
    let last: {pack: string; end: number; start: number} | undefined
    const all = macs.map((raw) => Buffer.from(raw))
    const locations = repo.cache.locateAll(BlobType.CHUNK, all)
    for (let i = 0; i < all.length; i++) {
      const mac = all[i]
      const loc = locations[i]
      const chunk: Chunk = {key: blobKey(mac), mac, location: loc}
      const joins =
        loc && last && loc.pack === last.pack && loc.offset >= last.end && loc.offset - last.end <= MAX_GAP && loc.offset + loc.length - last.start <= MAX_RANGE
      if (joins) {
        const run = runs.at(-1)!
        run.chunks.push(chunk)
        run.cost += loc!.offset + loc!.length - last!.end + loc!.rawLength
        last!.end = loc!.offset + loc!.length
      } else {
        runs.push({chunks: [chunk], cost: loc ? loc.length + loc.rawLength : 0})
        last = loc ? {pack: loc.pack, start: loc.offset, end: loc.offset + loc.length} : undefined
      }
    }
    type Fetched = {run: Chunk[]; blobs: Map<string, Buffer>; failed: Map<string, string>}
    const inflight: {fetched: Promise<Fetched>; release?: () => void}[] = []
    let next = 0
    try {
      while (next < runs.length || inflight.length > 0) {
        while (next < runs.length && inflight.length < ahead) {
          const {chunks: run, cost} = runs[next]
          let release: (() => void) | undefined
          if (readAhead) {
            release = inflight.length === 0 ? await readAhead.acquire(cost) : readAhead.tryAcquire(cost)
            if (!release) break
          }
          next++
          // A chunk repeated in the run is read once.
          const once = [...new Map(run.map((c) => [c.key, c])).values()]
          const fetched = this.#fetchLocated(BlobType.CHUNK, once, 1).then((r) => ({run, ...r}))
          fetched.catch(() => {})
          inflight.push({fetched, release})
        }
        const {fetched, release} = inflight[0]
        const {run, blobs, failed} = await fetched
        for (const {key} of run) {
          const chunk = blobs.get(key)
          if (!chunk) throw new IntegrityError(failed.get(key) ?? `chunk ${key.slice(0, 16)} is unreadable`)
          yield chunk
        }
        // Its last chunk consumed: the range's bytes are no longer held here.
        inflight.shift()
        release?.()
      }
    } finally {
      // Ended early (an error, the consumer gone): ranges still being read are held until read.
      for (const {fetched, release} of inflight.splice(0)) if (release) void fetched.then(release, release)
    }
  }

  /**
   * Starts the decoding workers now rather than with the first read that needs them: a check
   * starts them while it reads the states, and its first packfile does not wait for a worker's
   * start-up (about 0.3 s of loading modules on a busy machine).
   */
  startDecoding(): void {
    void this.#pool
  }

  /** Bytes of range buffers waiting to be read into again (RangeBuffers): what the tests observe. */
  get rangeBytesWaiting(): number {
    return this.#buffers.waiting
  }

  /** Decoding workers running, and requests they have not answered yet. */
  get decoding(): {workers: number; unanswered: number} {
    const pool = this.#pool
    return {workers: pool.workers, unanswered: pool.unanswered}
  }

  /**
   * Verifies blobs of a packfile's bytes (check): authenticated and re-MACed, plaintexts
   * dropped, on a worker or on this thread as `place` says (DecodePlace). The MACs
   * (MAC_LENGTH bytes per blob, in the order of `blobs`) move to a worker, and so do the bytes
   * unless they are in shared memory: callers must not use them after.
   * Returns why each failed blob failed, by index.
   */
  async verify(data: Buffer, macs: Buffer, blobs: Omit<DecodeBlob, 'mac'>[], place: DecodePlace = 'auto'): Promise<Map<number, string>> {
    return (await this.#pool.decodePlaced(data, macs, blobs, true, place)).errors
  }

  async close(): Promise<void> {
    await this.#decoder?.close()
  }
}
