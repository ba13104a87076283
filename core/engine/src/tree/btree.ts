import {decode, encode} from '../format/codec.js'
import {Shape} from '../format/shape.js'
import {FormatTooNewError, isFatal} from '@plakar/sdk'

/**
 * A B+tree of content-addressed nodes with content-defined node boundaries (a "prolly tree"):
 * a node ends after an entry whose key hashes to a boundary, so the same keys always produce the
 * same nodes. An unchanged run of entries therefore yields byte-identical nodes in the next
 * snapshot, which deduplication stores once; a changed entry rewrites only its leaf and the path
 * to the root. Trees are built bottom-up from entries in key order, holding one open node per
 * level, and read with a bounded node cache: no tree has to fit in memory.
 *
 * Node encoding (msgpack): [version, level, entries], where a leaf's entries are [key, value]
 * and an inner node's are [firstKeyOfChild, childMac].
 */
export const NODE_VERSION = 1

export interface NodeStore {
  /** Stores a node, returns its MAC (its address). */
  putNode(type: number, bytes: Buffer): Promise<Buffer>
  getNode(type: number, mac: Buffer): Promise<Buffer>
}

type Entry = [Buffer, Buffer]
type Node = [number, number, Entry[]]

export interface TreeShape {
  /** Entries per node on average (a power of two). */
  fanout: number
  /** No boundary before this many entries. */
  minEntries: number
  /** A node is cut at this many entries or bytes, boundary or not. */
  maxEntries: number
  maxBytes: number
}

export const DEFAULT_SHAPE: TreeShape = {fanout: 64, minEntries: 8, maxEntries: 512, maxBytes: 256 * 1024}

/**
 * A node from its encoding: [version, level, entries], entries [key, value] (leaf) or
 * [firstKey, childMac] (inner), keys in increasing order. Anything else is an IntegrityError.
 */
export function decodeNode(bytes: Uint8Array, name: string): Node {
  const s = new Shape(`tree node ${name}`)
  const node = s.list(decode<unknown>(bytes), 'the node')
  if (node.length !== 3) s.fail('it is not [version, level, entries]')
  const version = s.count(node[0], 'version')
  if (version > NODE_VERSION) {
    throw new FormatTooNewError(`tree node ${name} uses format version ${version} but this plakar reads up to ${NODE_VERSION}: upgrade plakar`)
  }
  if (version === 0) s.fail('version 0')
  const level = s.count(node[1], 'level')
  if (level > 64) s.fail('level beyond any tree')
  let previous: Uint8Array | undefined
  for (const e of s.list(node[2], 'entries')) {
    const entry = s.list(e, 'an entry')
    if (entry.length !== 2) s.fail('an entry is not a pair')
    const key = s.bytes(entry[0], 'a key')
    s.bytes(entry[1], level > 0 ? 'a child id' : 'a value', level > 0 ? 32 : undefined)
    if (previous && Buffer.compare(previous, key) >= 0) s.fail('keys out of order')
    previous = key
  }
  return node as Node
}

/** 32-bit FNV-1a of the key, seeded, with a murmur3 finaliser: cheap and well mixed. */
function boundaryHash(seed: number, level: number, key: Uint8Array): number {
  let h = (0x811c9dc5 ^ seed ^ Math.imul(level + 1, 0x9e3779b1)) >>> 0
  for (let i = 0; i < key.length; i++) {
    h ^= key[i]
    h = Math.imul(h, 0x01000193)
  }
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

export class TreeBuilder {
  readonly #store: NodeStore
  readonly #type: number
  readonly #shape: TreeShape
  readonly #seed: number
  readonly #levels: {entries: Entry[]; bytes: number}[] = []
  #lastKey: Buffer | undefined
  #count = 0

  constructor(store: NodeStore, type: number, seed: number, shape: TreeShape = DEFAULT_SHAPE) {
    this.#store = store
    this.#type = type
    this.#seed = seed
    this.#shape = shape
  }

  get count(): number {
    return this.#count
  }

  /** Keys must arrive in strictly increasing byte order. */
  async add(key: Buffer, value: Buffer): Promise<void> {
    if (this.#lastKey !== undefined && Buffer.compare(this.#lastKey, key) >= 0) {
      throw new Error('tree keys must be strictly increasing')
    }
    this.#lastKey = key
    this.#count++
    await this.#append(0, [key, value])
  }

  async #append(level: number, entry: Entry): Promise<void> {
    const node = (this.#levels[level] ??= {entries: [], bytes: 0})
    node.entries.push(entry)
    node.bytes += entry[0].length + entry[1].length + 8
    const n = node.entries.length
    const cut =
      n >= this.#shape.maxEntries ||
      node.bytes >= this.#shape.maxBytes ||
      (n >= this.#shape.minEntries && (boundaryHash(this.#seed, level, entry[0]) & (this.#shape.fanout - 1)) === 0)
    if (cut) await this.#flush(level)
  }

  async #flush(level: number): Promise<void> {
    const node = this.#levels[level]
    const firstKey = node.entries[0][0]
    const mac = await this.#store.putNode(this.#type, encode([NODE_VERSION, level, node.entries] satisfies Node))
    this.#levels[level] = {entries: [], bytes: 0}
    await this.#append(level + 1, [firstKey, mac])
  }

  /** Flushes every open node and returns the root's MAC. */
  async finish(): Promise<Buffer> {
    if (this.#levels.length === 0) {
      return this.#store.putNode(this.#type, encode([NODE_VERSION, 0, []] satisfies Node))
    }
    for (let level = 0; ; level++) {
      const node = this.#levels[level]
      const isTop = level === this.#levels.length - 1
      if (isTop && level > 0 && node.entries.length === 1) return node.entries[0][1]
      if (isTop && node.entries.length === 0) {
        // Everything was flushed below and the top is empty: the root is the level below's only entry.
        throw new Error('unreachable: empty top level')
      }
      if (node.entries.length > 0 || isTop) await this.#flush(level)
    }
  }
}

/** Reads a tree; decoded nodes are kept in a small LRU cache shared by every reader of a repository. */
export class TreeReader {
  readonly #store: NodeStore
  readonly #type: number
  readonly root: Buffer
  readonly #cache: NodeCache
  /** The leaf of the last lookup and the key range it covers (undefined: unbounded). */
  #lastLeaf: {entries: Entry[]; low: Buffer | undefined; high: Buffer | undefined} | undefined

  constructor(store: NodeStore, type: number, root: Buffer, cache: NodeCache) {
    this.#store = store
    this.#type = type
    this.root = root
    this.#cache = cache
  }

  /** Concurrent lookups of one node share a single fetch: the cache holds promises. */
  #node(mac: Buffer): Promise<Node> {
    const hex = mac.toString('hex')
    const cached = this.#cache.get(hex)
    if (cached) return cached
    const loading = this.#load(mac, hex)
    this.#cache.set(hex, loading)
    loading.catch(() => this.#cache.delete(hex))
    return loading
  }

  async #decoded(mac: Buffer): Promise<Node> {
    return decodeNode(await this.#store.getNode(this.#type, mac), mac.toString('hex').slice(0, 16))
  }

  async #load(mac: Buffer, hex: string): Promise<Node> {
    const bytes = await this.#store.getNode(this.#type, mac)
    const node = decodeNode(bytes, hex.slice(0, 16))
    // Decoded, a node costs about three times its encoding (one Buffer object per key and value).
    this.#cache.account(hex, bytes.length * 3)
    return node
  }

  async get(key: Buffer): Promise<Buffer | undefined> {
    // Lookups mostly come in key order (a backup asks for each path of its parent snapshot as
    // its scan meets them): the leaf found last often holds the next key as well.
    const known = this.peek(key)
    if (known !== undefined) return known ?? undefined
    let node = await this.#node(this.root)
    let low: Buffer | undefined
    let high: Buffer | undefined
    while (node[1] > 0) {
      const i = lastAtOrBefore(node[2], key)
      if (i < 0) return undefined
      // The child's keys lie in [its first key, the next sibling's first key), within the
      // bounds of the node above.
      low = node[2][i][0]
      if (i + 1 < node[2].length) high = node[2][i + 1][0]
      node = await this.#node(node[2][i][1])
    }
    this.#lastLeaf = {entries: node[2], low, high}
    return findIn(node[2], key)
  }

  /**
   * `get` without reading: the value under `key` when the leaf of the last lookup covers it
   * (null when that leaf has no such key), undefined when a node must be read to know.
   */
  peek(key: Buffer): Buffer | null | undefined {
    const last = this.#lastLeaf
    if (last && (last.low === undefined || Buffer.compare(key, last.low) >= 0) && (last.high === undefined || Buffer.compare(key, last.high) < 0)) {
      return findIn(last.entries, key) ?? null
    }
    return undefined
  }

  /**
   * Entries with from ≤ key < to, in key order. `to` undefined means to the end.
   * The iterator keeps one path of nodes, so a scan of any size uses bounded memory.
   *
   * With `onDamaged`, a node that cannot be read (damaged, missing) does not end the scan: it is
   * reported with the first key it would have held, and the scan goes on with the next node.
   * Everything from that key up to the next key yielded (or the end) is what was lost. Errors
   * of the storage as a whole (`fatal`) and newer formats still end the scan.
   */
  async *scan(from: Buffer = Buffer.alloc(0), to?: Buffer, onDamaged?: (firstLostKey: Buffer, error: unknown) => void): AsyncGenerator<[Buffer, Buffer]> {
    const load = async (mac: Buffer, firstKey: Buffer): Promise<Node | undefined> => {
      try {
        return await this.#node(mac)
      } catch (error) {
        if (!onDamaged || !tolerable(error)) throw error
        onDamaged(firstKey, error)
        return undefined
      }
    }
    const stack: {node: Node; index: number}[] = []
    let node = await load(this.root, from)
    let first = true
    for (;;) {
      // Down to a leaf: on the first descent, towards `from`; later, leftmost.
      while (node && node[1] > 0) {
        const i = first ? Math.max(0, lastAtOrBefore(node[2], from)) : 0
        stack.push({node, index: i})
        const [key, mac] = node[2][i]
        node = await load(mac, first && Buffer.compare(key, from) < 0 ? from : key)
      }
      if (node) {
        const entries = node[2]
        for (let index = first ? firstAtOrAfter(entries, from) : 0; index < entries.length; index++) {
          const [key, value] = entries[index]
          if (to !== undefined && Buffer.compare(key, to) >= 0) return
          yield [key, value]
        }
      }
      first = false
      // Climb until an inner node has a next child.
      let frame = stack.pop()
      while (frame && frame.index + 1 >= frame.node[2].length) frame = stack.pop()
      if (!frame) return
      frame.index++
      stack.push(frame)
      const [key, mac] = frame.node[2][frame.index]
      if (to !== undefined && Buffer.compare(key, to) >= 0) return
      node = await load(mac, key)
    }
  }

  /**
   * MACs of every node of the tree, parents before children (check, sync, maintenance). With
   * `onDamaged`, a node that cannot be read is reported (with the first key it would hold, and
   * the level of its parent) and skipped instead of ending the walk.
   */
  async *nodes(
    skip?: (mac: Buffer) => boolean,
    onDamaged?: (damage: {mac: Buffer; firstKey?: Buffer; error: unknown}) => void,
  ): AsyncGenerator<{mac: Buffer; level: number; entries: [Buffer, Buffer][]}> {
    const pending: {mac: Buffer; firstKey?: Buffer}[] = [{mac: this.root}]
    while (pending.length > 0) {
      const {mac, firstKey} = pending.pop()!
      if (skip?.(mac)) continue
      let node: Node
      try {
        // Past the cache: a walk of every node reads each once (check and sync skip the nodes
        // they have seen), and cached, its nodes held up to 32 MiB of the heap until evicted.
        node = await (this.#cache.get(mac.toString('hex')) ?? this.#decoded(mac))
      } catch (error) {
        if (!onDamaged || !tolerable(error)) throw error
        onDamaged({mac, firstKey, error})
        continue
      }
      yield {mac, level: node[1], entries: node[2]}
      if (node[1] > 0) for (let i = node[2].length - 1; i >= 0; i--) pending.push({mac: node[2][i][1], firstKey: node[2][i][0]})
    }
  }
}

/**
 * Damage a reader can go around: a node that fails authentication or is missing from the index
 * (exit code 65), or that does not decode. Not a failure of the storage (a system error code,
 * `fatal`), not a newer format: those end the walk.
 */
function tolerable(error: unknown): boolean {
  const e = error as {code?: unknown; plakarExitCode?: unknown}
  if (isFatal(error) || error instanceof FormatTooNewError) return false
  if (e?.plakarExitCode === 65) return true
  return e?.plakarExitCode === undefined && e?.code === undefined
}

/** The value stored under `key` in a leaf's sorted entries. */
function findIn(entries: Entry[], key: Buffer): Buffer | undefined {
  let lo = 0
  let hi = entries.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    const c = Buffer.compare(entries[mid][0], key)
    if (c === 0) return entries[mid][1]
    if (c < 0) lo = mid + 1
    else hi = mid - 1
  }
  return undefined
}

function lastAtOrBefore(entries: Entry[], key: Buffer): number {
  let lo = 0
  let hi = entries.length - 1
  let found = -1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    if (Buffer.compare(entries[mid][0], key) <= 0) {
      found = mid
      lo = mid + 1
    } else hi = mid - 1
  }
  return found
}

function firstAtOrAfter(entries: Entry[], key: Buffer): number {
  let lo = 0
  let hi = entries.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (Buffer.compare(entries[mid][0], key) < 0) lo = mid + 1
    else hi = mid
  }
  return lo
}

/**
 * A least-recently-used cache of decoded nodes (or their pending loads), bounded by an estimate
 * of their memory: leaves of a directory with a million files must not all stay resident.
 */
export class NodeCache {
  readonly #budget: number
  readonly #map = new Map<string, {node: Promise<Node>; bytes: number}>()
  #bytes = 0

  constructor(budgetBytes = 32 * 1024 * 1024) {
    this.#budget = budgetBytes
  }

  get(key: string): Promise<Node> | undefined {
    const slot = this.#map.get(key)
    if (slot) {
      this.#map.delete(key)
      this.#map.set(key, slot)
    }
    return slot?.node
  }

  set(key: string, node: Promise<Node>): void {
    this.delete(key)
    this.#map.set(key, {node, bytes: 0})
  }

  /** Records the size of a loaded node and evicts the least recently used beyond the budget. */
  account(key: string, bytes: number): void {
    const slot = this.#map.get(key)
    if (!slot) return
    this.#bytes += bytes - slot.bytes
    slot.bytes = bytes
    for (const [k, s] of this.#map) {
      if (this.#bytes <= this.#budget || k === key) break
      this.#map.delete(k)
      this.#bytes -= s.bytes
    }
  }

  delete(key: string): void {
    const slot = this.#map.get(key)
    if (!slot) return
    this.#map.delete(key)
    this.#bytes -= slot.bytes
  }
}
