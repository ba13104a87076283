/**
 * Two `backup` processes writing into one repository at the same time (sharing one cache, as
 * two backups of one user do) both succeed, both snapshots restore bit-exact, and `check`
 * passes afterwards.
 */
import {copyFile} from 'node:fs/promises'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {compareTrees, TreeBuilder} from '../support/tree.js'
import {setup} from './helpers.js'

const MiB = 1024 * 1024

describe('concurrent backups into one repository', () => {
  const env = setup('plakar-concurrent-')
  const a = join(env.s.dir, 'tree-a')
  const b = join(env.s.dir, 'tree-b')

  beforeAll(async () => {
    const ta = new TreeBuilder(a)
    const tb = new TreeBuilder(b)
    for (let i = 0; i < 3; i++) await ta.randomFile(`data/a-${i}.bin`, 7 * MiB + i)
    for (let i = 0; i < 3; i++) await tb.randomFile(`data/b-${i}.bin`, 7 * MiB + 100 + i)
    // Content both backups meet at the same time: deduplicated, never lost.
    await ta.randomFile('shared/same.bin', 6 * MiB)
    await tb.dir('shared')
    await copyFile(join(a, 'shared/same.bin'), join(b, 'shared/same.bin'))
    for (let i = 0; i < 200; i++) {
      await ta.file(`small/${i}.txt`, `a ${i}\n`)
      await tb.file(`small/${i}.txt`, `b ${i}\n`)
    }
    await ta.finish()
    await tb.finish()
    await env.plakar.ok(env.at('create'))
  })
  afterAll(() => env.s.cleanup())

  it('both succeed, both restore bit-exact, and check passes', async () => {
    const [ra, rb] = await Promise.all([
      env.plakar.run(env.at('backup', '--json', a)),
      env.plakar.run(env.at('backup', '--json', b)),
    ])
    expect(ra.exitCode, String(ra.stderr)).toBe(0)
    expect(rb.exitCode, String(rb.stderr)).toBe(0)
    const ida = (JSON.parse(String(ra.stdout)) as {id: string}).id
    const idb = (JSON.parse(String(rb.stdout)) as {id: string}).id
    const ids = (await env.plakar.jsonLines<{id: string}>(env.at('ls'))).map((s) => s.id)
    expect(ids.sort()).toEqual([ida, idb].sort())

    await env.plakar.ok(env.at('restore', '--to', join(env.s.dir, 'out-a'), ida))
    await env.plakar.ok(env.at('restore', '--to', join(env.s.dir, 'out-b'), idb))
    expect(await compareTrees(a, join(env.s.dir, 'out-a'))).toEqual([])
    expect(await compareTrees(b, join(env.s.dir, 'out-b'))).toEqual([])

    const check = await env.plakar.run(env.at('check'))
    expect(check.exitCode, String(check.stderr)).toBe(0)
    // A client that never saw the repository merges both writers' states the same way.
    const fresh = await env.plakar.run(env.at('check'), {env: {PLAKAR_CACHE_DIR: join(env.s.dir, 'fresh-cache')}})
    expect(fresh.exitCode, String(fresh.stderr)).toBe(0)
  })

  it('lets several processes open a fresh cache at once', async () => {
    // No cache yet: every process creates its schema at the same moment.
    const cache = join(env.s.dir, 'racing-cache')
    const runs = await Promise.all(Array.from({length: 6}, () => env.plakar.run(env.at('ls', '--json'), {env: {PLAKAR_CACHE_DIR: cache}})))
    for (const r of runs) expect(r.exitCode, String(r.stderr)).toBe(0)
  })
})
