/**
 * A damaged node of a snapshot's file tree (issue 11.4). One flipped byte is repaired from the
 * metadata packfile's parity (docs/format.md §7.1): restore is whole and bit-exact, exit 0, with
 * a warning. Damage beyond what parity corrects (two shards of one parity group): restore goes
 * around the damaged node, restores everything else bit-exact, names the lost range and exits
 * 65; check reports the damaged node and still checks the rest of the snapshot.
 */
import Database from 'better-sqlite3'
import {createHash} from 'node:crypto'
import {readdirSync, readFileSync} from 'node:fs'
import {open} from 'node:fs/promises'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {TreeBuilder} from '../support/tree.js'
import {setup} from './helpers.js'

const VFS_NODE = 3
const FILES = 2000

function filesBelow(dir: string): string[] {
  return (readdirSync(dir, {recursive: true, withFileTypes: true}) as import('node:fs').Dirent[])
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name).slice(dir.length + 1))
    .sort()
}

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex')

const SHARD = 4096
const GROUP = 16 * SHARD

describe('a damaged tree node', () => {
  const env = setup('plakar-meta-damage-')
  const src = join(env.s.dir, 'src')
  let snapshot: string
  let leaf: {pack: string; offset: number; length: number}
  const flip = async (at: number) => {
    const handle = await open(join(env.repo, 'packfiles', leaf.pack.slice(0, 2), leaf.pack), 'r+')
    const byte = Buffer.alloc(1)
    await handle.read(byte, 0, 1, at)
    byte[0] ^= 0x10
    await handle.write(byte, 0, 1, at)
    await handle.close()
  }

  beforeAll(async () => {
    const b = new TreeBuilder(src)
    for (let i = 0; i < FILES; i++) await b.file(`d${String(i % 20).padStart(2, '0')}/f${String(i).padStart(5, '0')}.txt`, `file ${i}\n`.repeat(1 + (i % 7)))
    await b.finish()
    await env.plakar.ok(env.at('create'))
    snapshot = String(JSON.parse(String((await env.plakar.ok(env.at('backup', '--json', src))).stdout)).id)

    // The first tree node stored is a leaf (trees are built bottom-up, the root comes last):
    // flip one byte in the middle of its sealed bytes.
    const [cacheFile] = (readdirSync(join(env.plakar.env.PLAKAR_CACHE_DIR, 'repositories'), {recursive: true}) as string[]).filter((f) => f.endsWith('cache.sqlite'))
    const db = new Database(join(env.plakar.env.PLAKAR_CACHE_DIR, 'repositories', cacheFile), {readonly: true})
    leaf = db
      .prepare('SELECT p.id AS pack, b.offset AS offset, b.length AS length FROM blobs b JOIN packfiles p ON p.n = b.pack WHERE b.type = ? ORDER BY b.offset LIMIT 1')
      .get(VFS_NODE) as {pack: string; offset: number; length: number}
    db.close()
    await flip(leaf.offset + Math.floor(leaf.length / 2))
  })
  afterAll(() => env.s.cleanup())

  it('one flipped byte is repaired from the parity: the restore is whole and bit-exact', async () => {
    const out = join(env.s.dir, 'out-repaired')
    const r = await env.plakar.run(env.at('restore', '--to', out, snapshot), {env: {PLAKAR_CACHE_DIR: join(env.s.dir, 'cache-1')}})
    expect(r.exitCode, String(r.stderr)).toBe(0)
    expect(String(r.stderr)).toMatch(/tree node [0-9a-f]{16} is corrupted: repaired from the parity of packfile/)
    const restored = filesBelow(out)
    expect(restored).toEqual(filesBelow(src))
    for (const rel of restored) expect(sha(join(out, rel)), rel).toBe(sha(join(src, rel)))
  })

  it('beyond what parity corrects, restores everything around it bit-exact, names what was lost, and exits 65', async () => {
    // The parity shard of the leaf's group damaged too (layout of docs/format.md §7.1): the
    // parity section follows the blobs; 13 bytes of header, a CRC per shard, a CRC of the table.
    const [cacheFile] = (readdirSync(join(env.plakar.env.PLAKAR_CACHE_DIR, 'repositories'), {recursive: true}) as string[]).filter((f) => f.endsWith('cache.sqlite'))
    const db = new Database(join(env.plakar.env.PLAKAR_CACHE_DIR, 'repositories', cacheFile), {readonly: true})
    const {end} = db.prepare('SELECT max(b.offset + b.length) AS end FROM blobs b JOIN packfiles p ON p.n = b.pack WHERE p.id = ?').get(leaf.pack) as {end: number}
    db.close()
    const shards = Math.ceil(end / SHARD)
    const groups = Math.ceil(shards / 16)
    const parityShards = end + 13 + 4 * (shards + groups) + 4
    await flip(parityShards + Math.floor((leaf.offset + Math.floor(leaf.length / 2)) / GROUP) * SHARD + 7)
    const out = join(env.s.dir, 'out')
    // A fresh cache: no node of the tree is cached from the backup.
    const r = await env.plakar.run(env.at('restore', '--to', out, snapshot), {env: {PLAKAR_CACHE_DIR: join(env.s.dir, 'cache-2')}})
    expect(r.exitCode, String(r.stderr)).toBe(65)
    const lost = String(r.stderr)
      .split('\n')
      .filter((l) => l.includes('a tree node of the snapshot is damaged'))
    expect(lost, String(r.stderr)).toHaveLength(1)
    expect(lost[0]).toMatch(/the entries from \/.* (up to \/.* \(excluded\)|to the end of \/.*) are lost/)

    const restored = filesBelow(out)
    const expected = filesBelow(src)
    // One leaf holds at most 512 entries: everything else came back.
    expect(restored.length).toBeGreaterThanOrEqual(FILES - 512)
    expect(restored.length).toBeLessThan(FILES)
    for (const rel of restored) expect(sha(join(out, rel)), rel).toBe(sha(join(src, rel)))
    expect(restored.every((rel) => expected.includes(rel))).toBe(true)
  })

  it('is reported by check, which still checks the rest', async () => {
    const r = await env.plakar.run(env.at('check', '--json'), {env: {PLAKAR_CACHE_DIR: join(env.s.dir, 'cache-3')}})
    expect(r.exitCode, String(r.stderr)).toBe(65)
    const json = JSON.parse(String(r.stdout)) as {files: number; problems: {kind: string; message: string}[]}
    expect(json.problems.some((p) => p.kind === 'snapshot' && /a node of its file tree is damaged/.test(p.message))).toBe(true)
    expect(json.files).toBeGreaterThanOrEqual(FILES - 512)
  })
})

describe('create --no-metadata-parity', () => {
  const env = setup('plakar-no-parity-')
  afterAll(() => env.s.cleanup())

  it('writes metadata without parity: info says so, and the packfiles are 1/16 smaller', async () => {
    const src = join(env.s.dir, 'src')
    const b = new TreeBuilder(src)
    for (let i = 0; i < 3000; i++) await b.file(`d${i % 30}/f${i}.txt`, `file ${i}\n`)
    await b.finish()
    const sizes: number[] = []
    for (const [repo, flags] of [[join(env.s.dir, 'with'), []], [join(env.s.dir, 'without'), ['--no-metadata-parity']]] as const) {
      await env.plakar.ok(['at', repo, 'create', ...flags])
      await env.plakar.ok(['at', repo, 'backup', '-q', src])
      const info = await env.plakar.json<{metadataParity: boolean}>(['at', repo, 'info'])
      expect(info.metadataParity).toBe(flags.length === 0)
      const meta = (readdirSync(join(repo, 'packfiles'), {recursive: true, withFileTypes: true}) as import('node:fs').Dirent[]).filter((d) => d.isFile())
      sizes.push(meta.reduce((t, d) => t + readFileSync(join(d.parentPath, d.name)).length, 0))
    }
    // Only metadata carries parity, about 1/16 of it, plus a padded 4 KiB shard per group. Here
    // the tiny files' chunks and their index rows are about half of what is stored, so the
    // packfiles are 3-5 % larger with parity (how many metadata packfiles a backup closes varies).
    console.log(`figure: metadata parity made the packfiles ${((sizes[0] / sizes[1] - 1) * 100).toFixed(2)} % larger`)
    expect(sizes[0] / sizes[1]).toBeGreaterThan(1.015)
    expect(sizes[0] / sizes[1]).toBeLessThan(1.08)
  })
})
