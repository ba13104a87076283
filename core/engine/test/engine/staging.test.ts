import {existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync} from 'node:fs'
import {hostname, tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {Staging} from '../../src/engine/staging.js'
import {createHash} from 'node:crypto'
import {BlobType} from '../../src/format/blob-type.js'
import {NodeCache, TreeReader, type NodeStore} from '../../src/tree/btree.js'
import {decodeEntry} from '../../src/tree/entry.js'
import {keyToPath} from '../../src/tree/path-key.js'

function memoryStore(): NodeStore {
  const nodes = new Map<string, Buffer>()
  return {
    async putNode(type, bytes) {
      const mac = createHash('sha256').update(bytes).digest()
      nodes.set(`${type}:${mac.toString('hex')}`, bytes)
      return mac
    },
    async getNode(type, mac) {
      return nodes.get(`${type}:${mac.toString('hex')}`)!
    },
  }
}

describe('Staging', () => {
  it('summarises a directory root from everything below it', async () => {
    const staging = new Staging(tmpdir())
    try {
      staging.add('/r', {info: {type: 'directory', size: 0}})
      staging.add('/r/a.txt', {info: {type: 'file', size: 3, contentType: 'text/plain'}})
      staging.add('/r/d/b', {info: {type: 'file', size: 4}})
      const {summary} = await staging.build(memoryStore(), 0, '/r')
      expect(summary).toMatchObject({files: 2, directories: 1, size: 7, types: {text: 1, unknown: 1}})
    } finally {
      staging.close()
    }
  })

  it('keeps the record of a path yielded last, whatever order files were staged in', async () => {
    const staging = new Staging(tmpdir())
    try {
      staging.add('/r', {info: {type: 'directory', size: 0}})
      // Yielded first, staged last (its content took longer to read).
      const first = staging.reserve()
      const second = staging.reserve()
      staging.add('/r/f', {info: {type: 'file', size: 4, nlink: 2}}, second)
      staging.add('/r/f', {info: {type: 'file', size: 3, nlink: 1}}, first)
      const {summary} = await staging.build(memoryStore(), 0, '/r')
      expect(summary).toMatchObject({files: 1, size: 4})
    } finally {
      staging.close()
    }
  })

  it('summarises a single-file backup as that file', async () => {
    const staging = new Staging(tmpdir())
    try {
      staging.add('/r/only.txt', {info: {type: 'file', size: 5, contentType: 'text/plain'}})
      const {summary} = await staging.build(memoryStore(), 0, '/r/only.txt')
      expect(summary).toMatchObject({files: 1, directories: 0, size: 5, types: {text: 1}})
    } finally {
      staging.close()
    }
  })

  it('removes the staging directories of backups whose process is gone, and only those', () => {
    const root = mkdtempSync(join(tmpdir(), 'plakar-staging-root-'))
    try {
      const host = hostname().replace(/[^A-Za-z0-9.]/g, '_')
      const abandoned = join(root, `plakar-staging-${host}-2147483646-AbC123`)
      const live = join(root, `plakar-staging-${host}-${process.pid}-XyZ789`)
      const otherHost = join(root, 'plakar-staging-elsewhere-2147483646-AbC123')
      const unrelated = join(root, 'something-else')
      for (const d of [abandoned, live, otherHost, unrelated]) mkdirSync(d)
      const staging = new Staging(root)
      staging.close()
      expect(existsSync(abandoned)).toBe(false)
      for (const d of [live, otherHost, unrelated]) expect(existsSync(d), d).toBe(true)
      // Its own directory is gone once closed.
      expect(readdirSync(root).sort()).toEqual(['plakar-staging-elsewhere-2147483646-AbC123', `plakar-staging-${host}-${process.pid}-XyZ789`, 'something-else'].sort())
    } finally {
      rmSync(root, {recursive: true, force: true})
    }
  })

  it('stages rows many at a time and loses none: entries, names and types of 1,000 files and their made-up directories', async () => {
    // Rows go to SQLite in multi-row INSERTs; a count that is not a multiple of their size
    // leaves some waiting, which the build must write first.
    const staging = new Staging(tmpdir())
    const store = memoryStore()
    try {
      const paths: string[] = []
      for (let i = 0; i < 1000; i++) {
        const path = `/r/d${i % 7}/sub${i % 3}/f${i}.txt`
        paths.push(path)
        staging.add(path, {info: {type: 'file', size: i, contentType: i % 2 ? 'text/plain' : 'image/png'}})
      }
      const {vfs, names, types, summary, entries} = await staging.build(store, 0, '/r')
      expect(summary).toMatchObject({files: 1000, directories: 7 + 21, size: (999 * 1000) / 2, types: {text: 500, image: 500}})
      expect(entries).toBe(1 + 1000 + 7 + 21 + 1) // '/', files, d*, sub*, /r
      const cache = new NodeCache()
      const read = async (type: number, root: Buffer) => {
        const out: [Buffer, Buffer][] = []
        for await (const pair of new TreeReader(store, type, root, cache).scan()) out.push(pair)
        return out
      }
      const files = (await read(BlobType.VFS_NODE, vfs)).filter(([, v]) => decodeEntry(v).info.type === 'file')
      expect(files.map(([k]) => keyToPath(k)).sort()).toEqual([...paths].sort())
      const nameKeys = (await read(BlobType.NAME_NODE, names)).map(([k]) => k.toString())
      expect(nameKeys.filter((k) => k.startsWith('f'))).toHaveLength(1000)
      expect(nameKeys).toContain('d3\0/r/d3')
      const typeKeys = (await read(BlobType.TYPE_NODE, types)).map(([k]) => k.toString())
      expect(typeKeys).toHaveLength(1000)
      expect(typeKeys).toContain('image/png\0/r/d0/sub0/f0.txt')
    } finally {
      staging.close()
    }
  })

  it('keeps counting siblings when an importer gave entries below a file', async () => {
    const staging = new Staging(tmpdir())
    try {
      staging.add('/r', {info: {type: 'directory', size: 0}})
      staging.add('/r/a', {info: {type: 'file', size: 1}})
      staging.add('/r/a/b', {info: {type: 'file', size: 10}})
      staging.add('/r/0', {info: {type: 'file', size: 100}})
      staging.add('/r/z', {info: {type: 'file', size: 1000}})
      const {summary} = await staging.build(memoryStore(), 0, '/r')
      expect(summary).toMatchObject({files: 4, size: 1111})
    } finally {
      staging.close()
    }
  })
})
