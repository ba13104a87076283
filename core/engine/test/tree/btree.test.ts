import {createHash} from 'node:crypto'
import {describe, expect, it} from 'vitest'
import {FormatTooNewError, IntegrityError} from '@plakar/sdk'
import {encode} from '../../src/format/codec.js'
import {DEFAULT_SHAPE, NodeCache, TreeBuilder, TreeReader, type NodeStore} from '../../src/tree/btree.js'

const TYPE = 3
const SEED = 0x5eed

/** Content-addressed in-memory node store that counts what a build really adds. */
class MemoryStore implements NodeStore {
  readonly nodes = new Map<string, Buffer>()
  puts = 0
  created = 0
  async putNode(_type: number, bytes: Buffer): Promise<Buffer> {
    const mac = createHash('sha256').update(bytes).digest()
    this.puts++
    if (!this.nodes.has(mac.toString('hex'))) {
      this.created++
      this.nodes.set(mac.toString('hex'), Buffer.from(bytes))
    }
    return mac
  }
  async getNode(_type: number, mac: Buffer): Promise<Buffer> {
    const node = this.nodes.get(mac.toString('hex'))
    if (!node) throw new Error(`no node ${mac.toString('hex')}`)
    return node
  }
}

const key = (i: number) => Buffer.from(`key-${String(i).padStart(8, '0')}`)
const value = (i: number, v = 0) => Buffer.from(`value ${i} v${v}`)

async function build(store: NodeStore, entries: [Buffer, Buffer][]): Promise<Buffer> {
  const builder = new TreeBuilder(store, TYPE, SEED)
  for (const [k, v] of entries) await builder.add(k, v)
  return builder.finish()
}

function entries(n: number, change?: (i: number) => number): [Buffer, Buffer][] {
  return Array.from({length: n}, (_, i) => [key(i), value(i, change?.(i) ?? 0)])
}

const reader = (store: NodeStore, root: Buffer) => new TreeReader(store, TYPE, root, new NodeCache(64))

async function collect(it: AsyncIterable<[Buffer, Buffer]>): Promise<string[]> {
  const out: string[] = []
  for await (const [k] of it) out.push(k.toString())
  return out
}

async function depth(store: MemoryStore, root: Buffer): Promise<number> {
  let levels = 0
  for await (const node of reader(store, root).nodes()) levels = Math.max(levels, node.level + 1)
  return levels
}

describe('B+tree (content-defined nodes)', () => {
  it('an empty tree has a root, finds nothing and scans nothing', async () => {
    const store = new MemoryStore()
    const root = await build(store, [])
    const tree = reader(store, root)
    expect(await tree.get(key(1))).toBeUndefined()
    expect(await tree.get(Buffer.alloc(0))).toBeUndefined()
    expect(await collect(tree.scan())).toEqual([])
  })

  it('a one-entry tree', async () => {
    const store = new MemoryStore()
    const tree = reader(store, await build(store, entries(1)))
    expect((await tree.get(key(0)))?.toString()).toBe('value 0 v0')
    expect(await tree.get(key(1))).toBeUndefined()
    expect(await collect(tree.scan())).toEqual([key(0).toString()])
  })

  it('builds from sorted keys and gets every key; absent keys are undefined', async () => {
    const store = new MemoryStore()
    const n = 5000
    const tree = reader(store, await build(store, entries(n)))
    expect(await depth(store, tree.root)).toBeGreaterThan(1)
    for (let i = 0; i < n; i += 7) expect((await tree.get(key(i)))?.toString()).toBe(`value ${i} v0`)
    expect((await tree.get(key(n - 1)))?.toString()).toBe(`value ${n - 1} v0`)
    expect(await tree.get(Buffer.from('a'))).toBeUndefined() // before the first
    expect(await tree.get(Buffer.from('key-00000001x'))).toBeUndefined() // between two
    expect(await tree.get(Buffer.from('zzz'))).toBeUndefined() // after the last
  })

  it('gets every key in order, in reverse and at random (the last leaf is reused only within its range)', async () => {
    const store = new MemoryStore()
    const n = 20_000
    // Only even keys are stored: every odd key falls between two stored ones, often across a
    // leaf boundary.
    const stored = Array.from({length: n}, (_, i) => [key(2 * i), value(2 * i)] as [Buffer, Buffer])
    const tree = reader(store, await build(store, stored))
    expect(await depth(store, tree.root)).toBeGreaterThan(2)
    const expectAt = async (i: number) => {
      const got = await tree.get(key(i))
      if (i % 2 === 0 && i < 2 * n) expect(got?.toString()).toBe(`value ${i} v0`)
      else expect(got).toBeUndefined()
    }
    for (let i = 0; i < 2 * n + 2; i++) await expectAt(i)
    for (let i = 2 * n + 1; i >= 0; i--) await expectAt(i)
    let x = 12345
    for (let j = 0; j < 20_000; j++) {
      x = (x * 1103515245 + 12345) % 2147483648
      await expectAt(x % (2 * n + 2))
    }
    expect(await tree.get(Buffer.from('a'))).toBeUndefined()
    expect(await tree.get(Buffer.from('zzz'))).toBeUndefined()
  })

  it('refuses keys out of order or repeated', async () => {
    const builder = new TreeBuilder(new MemoryStore(), TYPE, SEED)
    await builder.add(key(2), value(2))
    await expect(builder.add(key(1), value(1))).rejects.toThrow(/increasing/)
    await expect(builder.add(key(2), value(2))).rejects.toThrow(/increasing/)
  })

  it('scans ranges, across node boundaries, with thousands of entries', async () => {
    const store = new MemoryStore()
    const n = 20_000
    const all = entries(n).map(([k]) => k.toString())
    const tree = reader(store, await build(store, entries(n)))
    expect(await collect(tree.scan())).toEqual(all)
    const ranges: [number, number][] = [
      [0, 1],
      [0, 1000],
      [1234, 5678],
      [9999, 10_001],
      [n - 3, n],
      [500, 500],
    ]
    for (const [from, to] of ranges) {
      expect(await collect(tree.scan(key(from), key(to))), `scan ${from}..${to}`).toEqual(all.slice(from, to))
    }
    // Bounds that are not keys of the tree.
    expect(await collect(tree.scan(Buffer.from('key-00000100~'), Buffer.from('key-00000104~')))).toEqual(all.slice(101, 105))
    expect(await collect(tree.scan(Buffer.from('zzz')))).toEqual([])
    expect(await collect(tree.scan(Buffer.from('a'), key(3)))).toEqual(all.slice(0, 3))
    expect((await collect(tree.scan(key(n - 10)))).length).toBe(10)
  })

  it('is content-addressed: the same entries give the same root', async () => {
    const a = new MemoryStore()
    const b = new MemoryStore()
    expect((await build(a, entries(3000))).equals(await build(b, entries(3000)))).toBe(true)
    expect((await build(a, entries(3000, (i) => (i === 5 ? 1 : 0)))).equals(await build(b, entries(3000)))).toBe(false)
  })

  it('node boundaries depend on keys only: new values keep the same node structure', async () => {
    const shape = async (change: (i: number) => number) => {
      const store = new MemoryStore()
      const root = await build(store, entries(20_000, change))
      const firstKeys: string[] = []
      for await (const node of reader(store, root).nodes()) firstKeys.push(`${node.level}:${node.entries[0][0].toString()}:${node.entries.length}`)
      return firstKeys
    }
    expect(await shape((i) => i % 3)).toEqual(await shape(() => 0))
  })

  it('nodes are cut at maxBytes and maxEntries, boundary or not', async () => {
    const store = new MemoryStore()
    const big = Buffer.alloc(10 * 1024, 1)
    const builder = new TreeBuilder(store, TYPE, SEED)
    for (let i = 0; i < 300; i++) await builder.add(key(i), big)
    const root = await builder.finish()
    for (const bytes of store.nodes.values()) expect(bytes.length).toBeLessThan(DEFAULT_SHAPE.maxBytes + big.length + 1024)
    expect((await collect(reader(store, root).scan())).length).toBe(300)

    // A fanout so large that no key is a boundary: only maxEntries cuts.
    const shape = {fanout: 2 ** 30, minEntries: 8, maxEntries: 100, maxBytes: 1 << 30}
    const wide = new MemoryStore()
    const b2 = new TreeBuilder(wide, TYPE, SEED, shape)
    for (const [k, v] of entries(5000)) await b2.add(k, v)
    const root2 = await b2.finish()
    for await (const node of reader(wide, root2).nodes()) expect(node.entries.length).toBeLessThanOrEqual(100)
    expect((await collect(reader(wide, root2).scan(key(4321), key(4400)))).length).toBe(79)
  })

  it('structural sharing: one changed value of a 100k-entry tree rewrites only a handful of nodes', async () => {
    const store = new MemoryStore()
    const n = 100_000
    const first = await build(store, entries(n))
    const levels = await depth(store, first)
    expect(store.nodes.size).toBeGreaterThan(1000)
    expect(levels).toBeGreaterThanOrEqual(3)

    store.created = 0
    const root = await build(store, entries(n, (i) => (i === 54_321 ? 1 : 0)))
    // One leaf and its ancestors, plus at most a split or merge of the changed leaf.
    expect(store.created).toBeGreaterThanOrEqual(1)
    expect(store.created).toBeLessThanOrEqual(levels + 2)
    expect((await reader(store, root).get(key(54_321)))?.toString()).toBe('value 54321 v1')

    // An inserted key costs as little.
    store.created = 0
    const inserted = entries(n)
    inserted.splice(70_001, 0, [Buffer.from('key-00070000+'), Buffer.from('new')])
    await build(store, inserted)
    expect(store.created).toBeLessThanOrEqual(levels + 3)
  }, 60_000)

  it('nodes() visits every node once, parents first', async () => {
    const store = new MemoryStore()
    const root = await build(store, entries(10_000))
    const seen: string[] = []
    let lastLevel = Infinity
    let leaves = 0
    for await (const node of reader(store, root).nodes()) {
      seen.push(node.mac.toString('hex'))
      if (node.level === 0) leaves += node.entries.length
      lastLevel = node.level
    }
    expect(new Set(seen).size).toBe(seen.length)
    expect(seen.length).toBe(store.nodes.size)
    expect(leaves).toBe(10_000)
    expect(lastLevel).toBe(0)
  })

  it('a malformed node is an IntegrityError, a newer one a FormatTooNewError (exit 78)', async () => {
    const store = new MemoryStore()
    const bad = await store.putNode(TYPE, encode({not: 'a node'}))
    await expect(reader(store, bad).get(key(1))).rejects.toBeInstanceOf(IntegrityError)
    const newer = await store.putNode(TYPE, encode([99, 0, []]))
    await expect(reader(store, newer).get(key(1))).rejects.toBeInstanceOf(FormatTooNewError)
    await expect(reader(store, newer).get(key(1))).rejects.toMatchObject({plakarExitCode: 78})
  })
})
