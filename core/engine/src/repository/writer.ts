import {sealBlob} from '../format/blob.js'
import {isDataBlob} from '../format/blob-type.js'
import {open} from 'node:fs/promises'
import {Readable} from 'node:stream'
import {PackfileBuilder, removeSpilled, type FinishedPackfile, type PackKind} from '../format/packfile.js'
import {emptyDelta, type StateDelta, type StatePackfile, type StateSnapshot} from '../format/state.js'
import type {NodeStore} from '../tree/btree.js'
import {IntegrityError, isRetained, readableFrom} from '@plakar/sdk'
import type {KeySet} from '../crypto/keys.js'
import type {Repository} from './repository.js'

/**
 * A packfile is closed at this many blobs even below its size limit, and stored packfiles are
 * published once they hold this many: the blobs of unpublished packfiles are held in memory
 * (their index entries, and their MACs for dedup), and a packfile of tiny blobs (a million files
 * of a few hundred bytes) would otherwise hold 90,000 of them, four packfiles more before a
 * publish: 300 MB of heap on the million-file benchmark.
 */
export const MAX_PACK_BLOBS = 32_768
/** Lanes are small integers (a chunking worker's index): a packfile is open per lane in use. */
const MAX_LANE = 63

function isDiskFull(error: unknown): boolean {
  const code = (error as {code?: unknown})?.code
  return code === 'ENOSPC' || code === 'EDQUOT'
}

export interface WriterOptions {
  host: string
  /** Packfile uploads in flight (each holds one packfile in memory). */
  uploads?: number
  /** Publish a state delta after this many stored packfiles… */
  publishEvery?: number
  /** …or after this many milliseconds, whichever comes first. */
  publishIntervalMs?: number
  /** Count what would be stored, store nothing. */
  dryRun?: boolean
  /** Blobs per packfile and per publish (MAX_PACK_BLOBS); tests lower it to exercise the limit. */
  maxPackBlobs?: number
  /**
   * A directory for the blobs of data packfiles being filled (PackfileBuilder's `spillDir`):
   * written there as they come and stored from there, instead of held in memory.
   */
  spillDir?: string
}

export interface WriterStats {
  addedBlobs: number
  addedBytes: number
  packfiles: number
}

/**
 * The write path: decides which blobs are new (#isNew: the local cache and this writer's own
 * pending blobs), seals them into data and metadata packfiles, stores full packfiles concurrently, and
 * publishes state deltas as packfiles are stored, so that a crashed backup's uploads are reused
 * by the next one and concurrent writers see each other's blobs early.
 *
 * Ordering invariants: a packfile is stored before any state lists it; a snapshot is listed
 * only after every packfile of this writer is stored and listed.
 */
export class RepositoryWriter implements NodeStore {
  readonly #repo: Repository
  readonly #options: Required<WriterOptions>
  /** Blobs sealed by this writer and not yet in a published state: "type:mac" keys. */
  readonly #pending = new Set<string>()
  /**
   * Packfiles being filled: one for metadata, and one for data per lane. A lane is a stream of
   * chunks in the order they were cut (a chunking worker's: the files it was given, one after
   * the other), so that what one file or one directory's small files hold sits together in
   * packfiles, as a restore reads it, instead of interleaved with what another worker cut at
   * the same time (docs/performance.md, "Backup: one data packfile per chunking worker").
   */
  readonly #meta: {builder: PackfileBuilder}
  readonly #lanes: {builder: PackfileBuilder}[] = []
  readonly #uploads = new Set<Promise<void>>()
  #stored: FinishedPackfile[] = []
  #lastPublish = Date.now()
  #failure: unknown
  readonly stats: WriterStats = {addedBlobs: 0, addedBytes: 0, packfiles: 0}
  /**
   * Ids of the packfiles this writer stored. A packfile's id is the MAC of its bytes: a repack
   * that copies the same blobs in the same order as an earlier, interrupted one writes a
   * packfile with the id of that one's, which maintenance must then not delete.
   */
  readonly storedIds = new Set<string>()

  constructor(repo: Repository, options: WriterOptions) {
    this.#repo = repo
    this.#options = {uploads: 2, publishEvery: 4, publishIntervalMs: 30_000, dryRun: false, maxPackBlobs: MAX_PACK_BLOBS, spillDir: '', ...options}
    this.#meta = {builder: this.#builder('meta')}
  }

  /** Why the writer failed (an upload or a state write): every later put throws it. */
  get failure(): unknown {
    return this.#failure
  }

  /** The MAC a blob of this plaintext has: its id. */
  mac(plaintext: Uint8Array): Buffer {
    return this.#repo.keys.blobMac.digest(plaintext)
  }

  /**
   * The dedup decision, in one place: a blob is new unless this writer sealed it and has not
   * published it yet (pending), or the repository index has it. `indexChecked`: the caller asked
   * the index already, where it sealed the blob (ChunkSealer, on a worker); only a blob
   * published since could be there, and storing it twice is harmless.
   */
  #isNew(type: number, mac: Buffer, indexChecked: boolean): boolean {
    return !this.#pending.has(`${type}:${mac.toString('hex')}`) && (indexChecked || !this.#repo.cache.hasBlob(type, mac))
  }

  /** Whether the repository or this writer has the blob already: the same decision, asked. */
  has(type: number, mac: Buffer): boolean {
    return !this.#isNew(type, mac, false)
  }

  /**
   * Stores a blob unless the repository has it. Resolves once the blob is in a packfile buffer
   * (not yet on the storage); may wait for an upload slot (back-pressure).
   */
  async put(type: number, plaintext: Uint8Array, knownMac?: Buffer): Promise<{mac: Buffer; added: boolean}> {
    if (this.#failure) throw this.#failure
    const mac = knownMac ?? this.mac(plaintext)
    // Asked here too only to spare sealing a known blob; putSealed decides.
    if (!this.#isNew(type, mac, false)) return {mac, added: false}
    const sealed = sealBlob(this.#repo.keys, this.#repo.compressor, type, mac, plaintext)
    return {mac, added: await this.putSealed(type, mac, sealed, plaintext.length, true)}
  }

  /**
   * Stores a sealed blob unless it is not new (see #isNew): another worker may have sealed the
   * same chunk at the same time. The decision and the reservation are synchronous, so
   * concurrent callers never store one blob twice.
   */
  async putSealed(type: number, mac: Buffer, sealed: Buffer, rawLength: number, indexChecked = false, lane = 0): Promise<boolean> {
    if (this.#failure) throw this.#failure
    const open = this.#open(type, lane)
    // Back-pressure: a blob that would fill the packfile waits while every upload slot is
    // busy. Otherwise each concurrent caller could finish a packfile and hold it in memory
    // while waiting for a slot: with a slow storage, one packfile per file being backed up.
    while (this.#mustWait(open, sealed.length)) {
      await Promise.race(this.#uploads)
      if (this.#failure) throw this.#failure
    }
    return this.#add(type, open, mac, sealed, rawLength, indexChecked)
  }

  /**
   * putSealed without a promise when none is needed: a boolean when the blob went into the
   * packfile being filled (or was not new) at once, a promise only when it must wait for an
   * upload slot or it filled the packfile. The chunking pool's batches take this path for each
   * chunk: a promise chain per chunk was a good part of the main thread's work per small file.
   * Throws as putSealed rejects.
   */
  putSealedNow(type: number, mac: Buffer, sealed: Buffer, rawLength: number, indexChecked = false, lane = 0): boolean | Promise<boolean> {
    if (this.#failure) throw this.#failure
    const open = this.#open(type, lane)
    if (this.#mustWait(open, sealed.length)) return this.putSealed(type, mac, sealed, rawLength, indexChecked, lane)
    return this.#add(type, open, mac, sealed, rawLength, indexChecked)
  }

  /** The packfile a blob of this type goes to: the metadata one, or its lane's data one. */
  #open(type: number, lane: number): {builder: PackfileBuilder} {
    if (!isDataBlob(type)) return this.#meta
    if (!Number.isSafeInteger(lane) || lane < 0 || lane > MAX_LANE) throw new RangeError(`lane ${lane} is not an integer from 0 to ${MAX_LANE}`)
    while (this.#lanes.length <= lane) this.#lanes.push({builder: this.#builder('data')})
    return this.#lanes[lane]
  }

  #mustWait(open: {builder: PackfileBuilder}, adding: number): boolean {
    return !this.#options.dryRun && this.#uploads.size >= this.#options.uploads && this.#full(open.builder, adding)
  }

  /** putSealed once no wait is needed: the decision, the reservation and the add are synchronous. */
  #add(type: number, open: {builder: PackfileBuilder}, mac: Buffer, sealed: Buffer, rawLength: number, indexChecked: boolean): boolean | Promise<boolean> {
    if (!this.#isNew(type, mac, indexChecked)) return false
    this.#pending.add(`${type}:${mac.toString('hex')}`)
    this.stats.addedBlobs++
    this.stats.addedBytes += sealed.length
    if (this.#options.dryRun) return true
    const builder = open.builder
    try {
      builder.add(type, mac, sealed, rawLength)
    } catch (error) {
      // The spilled packfile could not be written (a full disk): the writer is done, not this file.
      this.#failure ??= error
      throw error
    }
    if (this.#full(builder)) return this.#rotate(open).then(() => true)
    return true
  }

  /** Whether the packfile, with one more blob of `adding` bytes when given, is to be closed. */
  #builder(kind: PackKind): PackfileBuilder {
    return new PackfileBuilder(this.#repo.keys, kind, {parity: this.#repo.config.packfile.parity !== false, ...(this.#options.spillDir ? {spillDir: this.#options.spillDir} : {})})
  }

  #full(builder: PackfileBuilder, adding?: number): boolean {
    const extra = adding === undefined ? 0 : 1
    return builder.size + (adding ?? 0) >= this.#repo.config.packfile.maxSize || builder.blobs.length + extra >= this.#options.maxPackBlobs
  }

  async putNode(type: number, bytes: Buffer): Promise<Buffer> {
    return (await this.put(type, bytes)).mac
  }

  getNode(type: number, mac: Buffer): Promise<Buffer> {
    return this.#repo.reader.read(type, mac)
  }

  async #rotate(open: {builder: PackfileBuilder}): Promise<void> {
    const builder = open.builder
    if (builder.blobs.length === 0) return
    const kind = builder.kind
    open.builder = this.#builder(kind)
    let pack: FinishedPackfile
    try {
      pack = builder.finish()
    } catch (error) {
      this.#failure ??= error
      throw error
    }
    while (this.#uploads.size >= this.#options.uploads) await Promise.race(this.#uploads)
    if (this.#failure) throw this.#failure
    const upload = this.#repo.storage
      .put('packfile', pack.id, packfileBytes(pack, this.#repo.keys), pack.size, {packfileKind: kind})
      .finally(() => {
        if (pack.spilled) removeSpilled(pack.spilled)
        pack.spilled = undefined
      })
      .then(() => {
        pack.parts = []
        this.#stored.push(pack)
        this.storedIds.add(pack.id)
        this.stats.packfiles++
      })
      .catch((error) => {
        this.#failure ??= error
      })
      .finally(() => this.#uploads.delete(upload))
    this.#uploads.add(upload)
    if (
      this.#stored.length >= this.#options.publishEvery ||
      this.#stored.reduce((n, p) => n + p.blobs.length, 0) >= this.#options.maxPackBlobs ||
      (this.#stored.length > 0 && Date.now() - this.#lastPublish >= this.#options.publishIntervalMs)
    ) {
      await this.#publish(emptyDelta(this.#options.host))
    }
  }

  /** Writes a state with every stored, unpublished packfile (plus whatever `delta` carries). */
  async #publish(delta: StateDelta): Promise<void> {
    const packs = this.#stored
    this.#stored = []
    delta.packfiles = packs.map(
      (p): StatePackfile => ({id: p.id, kind: p.kind, blobs: p.blobs.map((b) => [b.type, b.mac, b.offset, b.length, b.rawLength])}),
    )
    if (delta.packfiles.length === 0 && delta.snapshots.length === 0) return
    try {
      await this.#repo.writeState(delta)
    } catch (error) {
      // These packfiles are listed nowhere, yet their blobs stay "pending" and later puts
      // deduplicate against them: no state of this writer may name a snapshot any more.
      this.#stored = packs.concat(this.#stored)
      this.#failure ??= error
      throw error
    }
    this.#lastPublish = Date.now()
    for (const p of packs) for (const b of p.blobs) this.#pending.delete(`${b.type}:${b.mac.toString('hex')}`)
  }

  /**
   * After a failure: waits for the uploads in flight, then leaves no stored packfile that no
   * state lists (it would take space that nothing reclaims). On a full disk they are deleted,
   * to give the space back; otherwise they are published, so that the next backup reuses them,
   * and deleted when even that fails.
   */
  async abandon(reason: unknown): Promise<void> {
    if (this.#options.dryRun) return
    this.#failure ??= reason
    for (const open of [this.#meta, ...this.#lanes]) open.builder.discard()
    while (this.#uploads.size > 0) await Promise.race(this.#uploads)
    if (this.#stored.length === 0) return
    if (!isDiskFull(reason) && !isDiskFull(this.#failure)) {
      await this.#publish(emptyDelta(this.#options.host)).catch(() => {})
    }
    const left = this.#stored
    this.#stored = []
    for (const pack of left) {
      await this.#repo.storage.delete('packfile', pack.id).catch((error: unknown) => {
        // A WORM storage keeps it until its retention ends (RetainedObjectError says when):
        // it is listed nowhere, so a later maintenance removes it then.
        const log = isRetained(error) ? this.#repo.logger.info : this.#repo.logger.debug
        log.call(this.#repo.logger, `packfile ${pack.id.slice(0, 16)} could not be removed: ${(error as Error).message}`)
      })
    }
  }

  /** Stores every open packfile and waits for all uploads. */
  async flush(): Promise<void> {
    if (this.#options.dryRun) return
    for (const lane of this.#lanes) await this.#rotate(lane)
    await this.#rotate(this.#meta)
    while (this.#uploads.size > 0) await Promise.race(this.#uploads)
    if (this.#failure) throw this.#failure
  }

  /** Flushes, then publishes the last state, listing `snapshot` when given. */
  async commit(snapshot?: StateSnapshot): Promise<void> {
    await this.flush()
    if (this.#options.dryRun) return
    const delta = emptyDelta(this.#options.host)
    if (snapshot) delta.snapshots.push(snapshot)
    await this.#publish(delta)
  }
}

/**
 * A finished packfile's bytes as a stream: its spilled file (1 MiB at a time), then its parts.
 *
 * What is read back from the spilled file is MACed again and must give the packfile's id before
 * its last bytes (the index and footer, held in memory) are handed over: bytes changed on the
 * local disk between the write and the store (a failing disk, another process) fail the store,
 * and so the backup, instead of being stored under an id they no longer match, where only a
 * later check would find them and the source might be gone. restic hashes its temporary pack
 * files a second time before upload for the same reason. It costs one more keyed BLAKE3 pass
 * over the data, on this thread.
 */
function packfileBytes(pack: FinishedPackfile, keys: KeySet): Readable {
  if (!pack.spilled) return readableFrom(pack.parts)
  const {spilled, parts, id} = pack
  return Readable.from(
    (async function* () {
      const mac = keys.objectMac.stream()
      const handle = await open(spilled, 'r')
      try {
        for (;;) {
          // A fresh buffer per read: the storage may hold a piece until it is written.
          const piece = Buffer.allocUnsafeSlow(1 << 20)
          const {bytesRead} = await handle.read(piece, 0, piece.length, null)
          if (bytesRead === 0) break
          const bytes = piece.subarray(0, bytesRead)
          mac.update(bytes)
          yield bytes
        }
      } finally {
        await handle.close()
      }
      for (const part of parts) mac.update(part)
      if (mac.digest().toString('hex') !== id) {
        throw new IntegrityError(`packfile ${id.slice(0, 16)} changed on the local disk (${spilled}) before it was stored: check that disk, then run the backup again`)
      }
      yield* parts
    })(),
  )
}
