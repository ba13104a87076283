import {randomBytes} from 'node:crypto'
import {join} from 'node:path'
import {Chunker, gearTable} from '../chunking/fastcdc.js'
import {defaultKdfParams, deriveKeyFromPassphrase} from '../crypto/kdf.js'
import {canaryOf, KeySet, randomMasterKey, unwrapMasterKey, wrapMasterKey} from '../crypto/keys.js'
import {
  AuthError,
  IntegrityError,
  isNotFound,
  type Logger,
  mapConcurrent,
  NotFoundError,
  PlakarError,
  readableFrom,
  readAll,
  type Storage,
  UsageError,
} from '@plakar/sdk'
import {BlobType} from '../format/blob-type.js'
import {Compressor, type CompressionConfig} from '../format/compression.js'
import {
  authenticateConfig,
  CONFIG_VERSION,
  DEFAULT_CHUNKING,
  DEFAULT_COMPRESSION,
  DEFAULT_PACKFILE_SIZE,
  keySaltOf,
  newRepositoryId,
  parseConfig,
  serializeConfig,
  validateChunking,
  type ChunkingConfig,
  type RepositoryConfig,
} from '../format/config.js'
import {decodeHeader, type SnapshotHeader} from '../format/snapshot.js'
import {openState, sealState, type StateDelta} from '../format/state.js'
import {NodeCache, type NodeStore} from '../tree/btree.js'
import {BlobReader} from './blob-reader.js'
import {LocalCache} from './cache.js'
import {checkKdfBounds, EncryptionPin} from './pin.js'
import {requireWritable} from './storage-capabilities.js'

/**
 * Index entries (blobs, snapshots, one per state) of the decoded states a refresh merges in one
 * transaction: few commits for thousands of small states, bounded memory for big ones.
 */
const MERGE_BATCH_ENTRIES = 10_000
/**
 * Bytes of states a refresh reads at once, judged by the largest state read so far (at least
 * one state). Thousands of small states (hourly backups) are read `concurrency` at a time, for
 * a remote storage's latency. A backup's state lists a whole packfile's index (1.4 MB for
 * 33,000 small chunks): those are read one at a time, each merged while the next is read.
 * Read 8 at a time, decoding and merging never left the event loop idle, so garbage was
 * collected only under pressure: a cold refresh of 1,000,000 blobs peaked at 185-196 MiB
 * (2 at a time: 176) against 155 MiB one at a time, which took no longer on a local disk.
 */
const STATE_READ_BUDGET = 1024 * 1024

export interface CreateOptions {
  /** Absent for a plaintext repository. */
  passphrase?: Uint8Array
  chunking?: ChunkingConfig
  compression?: CompressionConfig
  packfileSize?: number
  /** False: metadata packfiles carry no parity (docs/format.md §7.1). Default true. */
  metadataParity?: boolean
  /**
   * Make the new repository a peer of this one (`create --from`): same master key and key salt,
   * chunking, compression and packfile size, so that sync copies sealed data as it is. Its
   * `master` is absent when the peer is a plaintext repository.
   */
  peerOf?: {config: RepositoryConfig; master?: Uint8Array}
}

export interface OpenOptions {
  cacheDir: string
  /** Asked only when the repository is encrypted. */
  passphrase: () => Promise<Uint8Array>
  logger: Logger
  /** Parallel requests to the storage. */
  concurrency?: number
  /** The user supplied a passphrase without being asked (environment, key file): expects encryption. */
  passphraseGiven?: boolean
}

export interface DamagedState {
  id: string
  error: string
}

/** An open repository: its keys, its merged states, and read access to its blobs. */
export class Repository {
  readonly storage: Storage
  readonly config: RepositoryConfig
  readonly keys: KeySet
  readonly cache: LocalCache
  readonly compressor: Compressor
  readonly logger: Logger
  readonly concurrency: number
  readonly nodeCache = new NodeCache()
  /** The one way blobs are read back (ranges, decoding workers, authentication). */
  readonly reader = new BlobReader(this)
  /** States that could not be read at the last refresh: reported by check. */
  damagedStates: DamagedState[] = []
  #gear?: Uint32Array
  readonly #onClose: (() => Promise<void>)[] = []

  private constructor(storage: Storage, config: RepositoryConfig, keys: KeySet, options: OpenOptions) {
    this.storage = storage
    this.config = config
    this.keys = keys
    this.logger = options.logger
    this.concurrency = options.concurrency ?? 8
    this.compressor = new Compressor(config.compression)
    const idHex = Buffer.from(config.id).toString('hex')
    this.cache = new LocalCache(join(options.cacheDir, 'repositories', idHex, 'cache.sqlite'))
  }

  get id(): string {
    return Buffer.from(this.config.id).toString('hex')
  }

  static async create(storage: Storage, options: CreateOptions): Promise<RepositoryConfig> {
    requireWritable(storage, 'hold a new repository')
    const peer = options.peerOf?.config
    const chunking = peer?.chunking ?? options.chunking ?? DEFAULT_CHUNKING
    try {
      validateChunking(chunking)
    } catch (error) {
      throw new UsageError((error as Error).message)
    }
    if (peer && !!peer.encryption !== !!options.passphrase) {
      throw new UsageError(peer.encryption ? 'a peer of an encrypted repository is encrypted: give it a passphrase' : 'a peer of a plaintext repository is plaintext too')
    }
    const id = newRepositoryId()
    const base: RepositoryConfig = {
      version: CONFIG_VERSION,
      id,
      ...(peer ? {keySalt: Buffer.from(keySaltOf(peer))} : {}),
      created: new Date().toISOString(),
      chunking,
      packfile: {
        maxSize: peer?.packfile.maxSize ?? options.packfileSize ?? DEFAULT_PACKFILE_SIZE,
        ...((peer ? peer.packfile.parity : options.metadataParity) === false ? {parity: false} : {}),
      },
      mac: 'blake3-keyed',
      compression: peer?.compression ?? options.compression ?? DEFAULT_COMPRESSION,
      encryption: null,
    }
    const salt = keySaltOf(base)
    let keys: KeySet
    if (options.passphrase) {
      const kdf = defaultKdfParams()
      const kek = await deriveKeyFromPassphrase(options.passphrase, kdf)
      const master = options.peerOf?.master ? Buffer.from(options.peerOf.master) : randomMasterKey()
      keys = KeySet.fromMasterKey(master, salt)
      base.encryption = {
        algorithm: 'aes-256-gcm-hmac-subkey',
        kdf,
        wrappedKey: wrapMasterKey(kek, master, id),
        canary: canaryOf(keys, id),
      }
      master.fill(0)
    } else {
      keys = KeySet.plaintext(salt)
    }
    await storage.create(serializeConfig(base, keys.configMac))
    return base
  }

  /**
   * The config and master key of the repository at `storage` (for `create --from`), checked
   * like open() checks them. The caller wipes the key when done.
   */
  static async unlock(storage: Storage, passphrase: () => Promise<Uint8Array>): Promise<{config: RepositoryConfig; master?: Buffer}> {
    let bytes: Uint8Array
    try {
      bytes = await storage.open()
    } catch (error) {
      if (isNotFound(error)) throw new NotFoundError(`no repository at ${storage.location}`)
      throw error
    }
    const config = parseConfig(bytes)
    if (!config.encryption) {
      authenticateConfig(bytes, KeySet.plaintext(keySaltOf(config)).configMac)
      return {config}
    }
    checkKdfBounds(config.encryption.kdf)
    const kek = await deriveKeyFromPassphrase(await passphrase(), config.encryption.kdf)
    const master = unwrapMasterKey(kek, config.encryption.wrappedKey, config.id)
    const keys = KeySet.fromMasterKey(master, keySaltOf(config))
    if (!canaryOf(keys, config.id).equals(Buffer.from(config.encryption.canary))) throw new AuthError(`wrong passphrase for the repository at ${storage.location}`)
    authenticateConfig(bytes, keys.configMac)
    return {config, master}
  }

  static async open(storage: Storage, options: OpenOptions): Promise<Repository> {
    let bytes: Uint8Array
    try {
      bytes = await storage.open()
    } catch (error) {
      if (isNotFound(error)) {
        throw new NotFoundError(`no repository at ${storage.location}: create one with "plakar at ${storage.location} create"`)
      }
      throw error
    }
    const config = parseConfig(bytes)
    const pin = new EncryptionPin(options.cacheDir, config.id)
    if (!config.encryption && pin.encrypted()) {
      throw new IntegrityError(
        `the repository at ${storage.location} was encrypted but its config now says it is not: ` +
          'the config was replaced (a downgrade attack?); restore the original CONFIG',
      )
    }
    let keys: KeySet
    if (config.encryption) {
      checkKdfBounds(config.encryption.kdf)
      const passphrase = await options.passphrase()
      const kek = await deriveKeyFromPassphrase(passphrase, config.encryption.kdf)
      const master = unwrapMasterKey(kek, config.encryption.wrappedKey, config.id)
      keys = KeySet.fromMasterKey(master, keySaltOf(config))
      master.fill(0)
      if (!canaryOf(keys, config.id).equals(Buffer.from(config.encryption.canary))) {
        throw new AuthError('wrong passphrase for this repository')
      }
    } else {
      keys = KeySet.plaintext(keySaltOf(config))
      if (options.passphraseGiven) {
        options.logger.warn(`the repository at ${storage.location} is not encrypted, yet a passphrase was given: check it is the one you created`)
      }
    }
    authenticateConfig(bytes, keys.configMac)
    if (config.encryption) pin.remember()
    const repo = new Repository(storage, config, keys, options)
    try {
      await repo.refresh()
    } catch (error) {
      repo.cache.close()
      throw error
    }
    return repo
  }

  /** A fresh chunker for this repository's parameters and keyed gear table. */
  chunker(): Chunker {
    this.#gear ??= gearTable(this.keys.chunkerSeed)
    return new Chunker(this.config.chunking, this.#gear)
  }

  /** Seed of the content-defined boundaries of tree nodes. */
  get treeSeed(): number {
    return this.keys.treeSeed.readUInt32LE(0)
  }

  /**
   * Merges the states written since the last refresh. If a state the cache knows has vanished
   * (compaction), the cache is rebuilt from scratch rather than trusted.
   */
  async refresh(): Promise<void> {
    const listed = new Set<string>()
    for await (const id of this.storage.list('state')) listed.add(id)
    let known = this.cache.knownStates()
    const vanished = [...known].filter((id) => !listed.has(id))
    if (vanished.length > 0) {
      this.logger.debug(`state ${vanished[0]} vanished: rebuilding the local cache`)
      this.cache.clear()
      known = new Set()
    }
    const missing = [...listed].filter((id) => !known.has(id))
    const damaged: DamagedState[] = []
    // Decoded states wait to be merged in one transaction, up to MERGE_BATCH_ENTRIES entries.
    let batch: {id: string; delta: StateDelta}[] = []
    let entries = 0
    const merge = () => {
      if (batch.length > 0) this.cache.applyStates(batch)
      batch = []
      entries = 0
    }
    let largest = 0
    let reading = 0
    const queued: (() => void)[] = []
    const readState = async (id: string): Promise<Buffer> => {
      while (reading >= Math.max(1, Math.floor(STATE_READ_BUDGET / Math.max(largest, 1)))) await new Promise<void>((wake) => queued.push(wake))
      reading++
      try {
        const bytes = await readAll(await this.storage.get('state', id))
        largest = Math.max(largest, bytes.length)
        return bytes
      } finally {
        reading--
        queued.shift()?.()
      }
    }
    await mapConcurrent(missing, this.concurrency, async (id) => {
      let delta: StateDelta
      try {
        delta = openState(this.keys, id, await readState(id))
      } catch (error) {
        if (error instanceof PlakarError && error.plakarExitCode === 78) throw error
        damaged.push({id, error: (error as Error).message})
        return
      }
      batch.push({id, delta})
      entries += 1 + delta.snapshots.length + delta.packfiles.reduce((n, p) => n + p.blobs.length, 0)
      if (entries >= MERGE_BATCH_ENTRIES) merge()
    })
    merge()
    this.damagedStates = damaged
    if (vanished.length > 0) {
      // Compaction deletes the states it supersedes; any other state that disappears took what
      // it recorded (a snapshot, a deletion) with it.
      const superseded = this.cache.supersededStates()
      const lost = vanished.filter((id) => !superseded.has(id))
      this.cache.addVanishedStates(lost)
      for (const id of lost) this.logger.warn(`state ${id.slice(0, 16)}, known to this client, is gone from the storage and no compaction replaced it; run "plakar check"`)
    }
    for (const d of damaged) this.logger.warn(`state ${d.id.slice(0, 16)} is unreadable (${d.error}); run "plakar check"`)
  }

  /** Writes a state delta; callers must have stored every packfile it lists first. */
  async writeState(delta: StateDelta): Promise<string> {
    const {id, bytes} = sealState(this.keys, delta)
    await this.storage.put('state', id, readableFrom([bytes]), bytes.length)
    this.cache.applyState(id, delta)
    return id
  }

  /**
   * Why a blob cannot be located: absent from the index, or only in packfiles maintenance
   * marked for deletion (treated as gone, though the bytes are kept through the grace period).
   */
  missingBlob(type: number, mac: Buffer, what = 'blob'): string {
    const hex = mac.toString('hex').slice(0, 16)
    const marked = this.cache.markedCopy(type, mac)
    if (marked) {
      return (
        `${what} ${hex} is only in packfile ${marked.pack.slice(0, 16)}, which maintenance marked for deletion on ` +
        `${new Date(marked.marked).toISOString()} because no snapshot referenced it; its bytes are kept until the grace period ends`
      )
    }
    return `${what} ${hex} is not in the repository index`
  }

  /** Read access to tree nodes; writers wrap it with their own putNode. */
  get nodeReader(): NodeStore {
    return {
      getNode: (type, mac) => this.reader.read(type, mac),
      putNode: () => Promise.reject(new Error('read-only repository view')),
    }
  }

  async snapshotHeader(id: Buffer, headerMac: Buffer): Promise<SnapshotHeader> {
    let data = this.cache.cachedHeader(id)
    if (!data) {
      data = await this.reader.read(BlobType.SNAPSHOT, headerMac)
      const header = decodeHeader(data)
      if (!Buffer.from(header.id).equals(id)) {
        throw new IntegrityError(`snapshot ${id.toString('hex').slice(0, 16)} names a header that belongs to another snapshot`)
      }
      this.cache.cacheHeader(id, data)
      return header
    }
    return decodeHeader(data)
  }

  /** Every live snapshot, oldest first. Headers are fetched once, then served by the cache. */
  async snapshots(): Promise<SnapshotHeader[]> {
    const rows = this.cache.snapshots()
    const out = await mapConcurrent(rows, this.concurrency, async (row) => {
      try {
        const header = await this.snapshotHeader(row.id, row.header)
        return row.editedTags ? {...header, tags: row.editedTags} : header
      } catch (error) {
        this.logger.warn(`snapshot ${row.id.toString('hex').slice(0, 16)} is unreadable: ${(error as Error).message}`)
        return undefined
      }
    })
    return out.filter((h): h is SnapshotHeader => h !== undefined)
  }

  /** Finds a snapshot by a unique id prefix. */
  async findSnapshot(prefix: string): Promise<SnapshotHeader> {
    const wanted = prefix.toLowerCase()
    if (!/^[0-9a-f]+$/.test(wanted)) throw new UsageError(`"${prefix}" is not a snapshot id: ids are hexadecimal`)
    const rows = this.cache.snapshots().filter((r) => r.id.toString('hex').startsWith(wanted))
    if (rows.length === 0) throw new NotFoundError(`no snapshot ${prefix} in this repository: "plakar ls" lists them`)
    if (rows.length > 1) {
      const ids = rows.slice(0, 4).map((r) => r.id.toString('hex').slice(0, 12))
      throw new UsageError(`snapshot prefix ${prefix} is ambiguous (${ids.join(', ')}${rows.length > 4 ? ', …' : ''}): give more characters`)
    }
    const header = await this.snapshotHeader(rows[0].id, rows[0].header)
    return rows[0].editedTags ? {...header, tags: rows[0].editedTags} : header
  }

  /** Runs `fn` when the repository closes: upper layers attach their resources (worker pools). */
  onClose(fn: () => Promise<void>): void {
    this.#onClose.push(fn)
  }

  async close(): Promise<void> {
    for (const fn of this.#onClose.splice(0)) await fn().catch(() => {})
    await this.reader.close().catch(() => {})
    this.cache.close()
    await this.storage.close()
  }
}

export function newSnapshotId(): Buffer {
  return randomBytes(32)
}
