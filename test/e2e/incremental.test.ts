/**
 * Incremental backups and deduplication, measured where it matters: bytes read from the source
 * (the snapshot's stats.readBytes) and bytes the repository directory grows by on disk.
 */
import {open, readFile, utimes, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {ageTree, compareTrees, diskUsage, TreeBuilder} from '../support/tree.js'
import {backup, setup} from './helpers.js'

const MiB = 1024 * 1024
const AVG_CHUNK = 512 * 1024 // the default chunking (128 KiB / 512 KiB / 4 MiB)
const BIG = 50 * MiB + 777
const OTHER = 8 * MiB

interface Info {
  stats: {readBytes: number; addedBytes: number}
  summary: {files: number; size: number}
}

describe('incremental backups and deduplication', () => {
  const env = setup('plakar-incr-')
  const src = join(env.s.dir, 'src')
  let total = 0
  const info = (id: string) => env.plakar.json<Info>(env.at('info', id))
  /** Runs a backup and returns its snapshot info and how much the repository grew on disk. */
  const measured = async (): Promise<{id: string; info: Info; grew: number}> => {
    const before = (await diskUsage(env.repo)).bytes
    const {id: snapshot} = await backup(env, [src])
    const grew = (await diskUsage(env.repo)).bytes - before
    return {id: snapshot, info: await info(snapshot), grew}
  }

  beforeAll(async () => {
    const b = new TreeBuilder(src)
    await b.randomFile('big.bin', BIG)
    await b.randomFile('media/other.bin', OTHER)
    for (let i = 0; i < 40; i++) await b.file(`text/file-${i}.txt`, `line ${i}\n`.repeat(200 + i))
    await b.finish()
    // Every change below is aged too: a file modified in the seconds before a backup is read
    // again by the next one (racily clean), which would add to what each test counts.
    await ageTree(src)
    total = (await diskUsage(src)).bytes
    await env.plakar.ok(env.at('create'))
  })
  afterAll(() => env.s.cleanup())

  it('reads everything the first time', async () => {
    const first = await measured()
    expect(first.info.stats.readBytes).toBe(total)
    expect(first.info.summary.size).toBe(total)
    // Random data does not compress: the repository holds at least the data.
    expect(first.grew).toBeGreaterThan(BIG + OTHER)
  })

  it('re-reads nothing and adds < 1 % when nothing changed', async () => {
    const again = await measured()
    expect(again.info.stats.readBytes).toBe(0)
    expect(again.info.summary.size).toBe(total)
    expect(again.grew).toBeLessThan(total * 0.01)
  })

  it('re-reads only the file that changed', async () => {
    const changed = join(src, 'text/file-7.txt')
    await writeFile(changed, 'changed content\n'.repeat(100))
    await ageTree(changed)
    const r = await measured()
    expect(r.info.stats.readBytes).toBe(1600)
    expect(r.grew).toBeLessThan(total * 0.01)
  })

  it('re-reads a file whose mtime changed, and stores none of its (same) content again', async () => {
    const halfAnHourAgo = new Date(Date.now() - 1_800_000)
    await utimes(join(src, 'media/other.bin'), halfAnHourAgo, halfAnHourAgo)
    const r = await measured()
    expect(r.info.stats.readBytes).toBe(OTHER)
    expect(r.grew).toBeLessThan(total * 0.01)
  })

  it('stores about one chunk when a few bytes are inserted near the start of a large file', async () => {
    const path = join(src, 'big.bin')
    const data = await readFile(path)
    const inserted = Buffer.concat([data.subarray(0, 4096), Buffer.from('a few new bytes'), data.subarray(4096)])
    const handle = await open(path, 'w')
    await handle.writeFile(inserted)
    await handle.close()
    await ageTree(path)
    const r = await measured()
    expect(r.info.stats.readBytes).toBe(inserted.length)
    expect(r.grew).toBeGreaterThan(0)
    expect(r.grew, `the repository grew by ${r.grew} bytes`).toBeLessThanOrEqual(3 * AVG_CHUNK)
    const out = join(env.s.dir, 'out')
    await env.plakar.ok(env.at('restore', '--to', out, r.id))
    expect(await compareTrees(src, out)).toEqual([])
  })
})
