/**
 * One flipped byte in a node of a snapshot's file tree (issue 11.4): restore goes around the
 * damaged node, restores everything else bit-exact, names the lost range and exits 65; check
 * reports the damaged node and still checks the rest of the snapshot.
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

describe('a damaged tree node', () => {
  const env = setup('plakar-meta-damage-')
  const src = join(env.s.dir, 'src')
  let snapshot: string

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
    const leaf = db
      .prepare('SELECT p.id AS pack, b.offset AS offset, b.length AS length FROM blobs b JOIN packfiles p ON p.n = b.pack WHERE b.type = ? ORDER BY b.offset LIMIT 1')
      .get(VFS_NODE) as {pack: string; offset: number; length: number}
    db.close()
    const handle = await open(join(env.repo, 'packfiles', leaf.pack.slice(0, 2), leaf.pack), 'r+')
    const at = leaf.offset + Math.floor(leaf.length / 2)
    const byte = Buffer.alloc(1)
    await handle.read(byte, 0, 1, at)
    byte[0] ^= 0x10
    await handle.write(byte, 0, 1, at)
    await handle.close()
  })
  afterAll(() => env.s.cleanup())

  it('restores everything around it bit-exact, names what was lost, and exits 65', async () => {
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
