/**
 * A lost packfile must not poison later snapshots (issue 11.2): the next backup notices that
 * blobs it would reuse are gone, stores that data again and says so; `check --fast` names the
 * older snapshots' damaged files; `repair` makes them whole from the source and names what it
 * cannot save. Each case works on its own copy of one pristine repository.
 */
import {cp, rm, truncate, writeFile} from 'node:fs/promises'
import {dirname, join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {ageTree, compareTrees, packfiles, TreeBuilder} from '../support/tree.js'
import {setup} from './helpers.js'

const MiB = 1024 * 1024

interface CheckJson {
  ok: boolean
  problems: {kind: string; message: string; path?: string; snapshot?: string}[]
}

describe('a lost packfile', () => {
  const env = setup('plakar-lost-pack-')
  const src = join(env.s.dir, 'src')
  let first: string
  let copies = 0

  const copy = async () => {
    const dir = join(env.s.dir, `repo-${++copies}`)
    await cp(env.repo, dir, {recursive: true})
    const cache = join(env.s.dir, `cache-${copies}`)
    await cp(env.plakar.env.PLAKAR_CACHE_DIR, cache, {recursive: true})
    const run = (args: string[], cacheDir = cache) => env.plakar.run(['at', dir, ...args], {env: {PLAKAR_CACHE_DIR: cacheDir}})
    return {
      dir,
      run,
      check: async (...args: string[]) => {
        const r = await run(['check', '--json', ...args])
        return {r, json: JSON.parse(String(r.stdout) || '{}') as CheckJson}
      },
    }
  }
  const namedFiles = (json: CheckJson) => [...new Set(json.problems.filter((p) => p.kind === 'file').map((p) => p.path!))].sort()

  beforeAll(async () => {
    const b = new TreeBuilder(src)
    // Random content, 45 MiB: several data packfiles of 16 MiB.
    for (let i = 0; i < 5; i++) await b.randomFile(`data/file-${i}.bin`, 9 * MiB + i)
    for (let i = 0; i < 20; i++) await b.randomFile(`small/s-${i}.bin`, 200 * 1024 + i)
    for (let i = 0; i < 10; i++) await b.file(`text/note-${i}.txt`, `note ${i}\n`.repeat(50))
    await b.finish()
    await ageTree(src)
    await env.plakar.ok(env.at('create'))
    first = String(JSON.parse(String((await env.plakar.ok(env.at('backup', '--json', src))).stdout)).id)
  })
  afterAll(() => env.s.cleanup())

  it('makes the next backup store the lost data again and say so; its snapshot restores bit-exact', async () => {
    const repo = await copy()
    const [pack] = await packfiles(repo.dir)
    await rm(pack.path)

    const b = await repo.run(['backup', '--json', src])
    expect(b.exitCode, String(b.stderr)).toBe(0)
    const json = JSON.parse(String(b.stdout)) as {id: string; lostPackfiles: string[]; recovered: number; addedBytes: number}
    expect(json.lostPackfiles).toEqual([pack.id])
    expect(json.recovered).toBeGreaterThan(0)
    expect(json.addedBytes).toBeGreaterThan(pack.size / 2)
    expect(String(b.stderr)).toMatch(new RegExp(`1 packfile \\(${pack.id.slice(0, 16)}\\) .*missing from the storage`))

    // The new snapshot is whole: check --fast of it passes, and it restores bit-exact, also for
    // a client that never saw the repository (it merges the states in any order).
    const fast = await repo.check('--fast', json.id)
    expect(fast.r.exitCode, String(fast.r.stdout)).toBe(0)
    for (const cacheDir of [undefined, join(env.s.dir, `fresh-cache-${copies}`)]) {
      const out = join(env.s.dir, `out-backup-${copies}-${cacheDir ? 'fresh' : 'warm'}`)
      const r = await repo.run(['restore', '--to', out, json.id], cacheDir)
      expect(r.exitCode, String(r.stderr)).toBe(0)
      expect(await compareTrees(src, out)).toEqual([])
    }
    // The next backup finds nothing lost any more.
    const again = await repo.run(['backup', '--json', src])
    expect(again.exitCode, String(again.stderr)).toBe(0)
    expect((JSON.parse(String(again.stdout)) as {lostPackfiles: string[]}).lostPackfiles).toEqual([])
    expect(String(again.stderr)).not.toMatch(/missing/)
  })

  it('a truncated packfile is caught by the next backup like a lost one: its data is stored again', async () => {
    const repo = await copy()
    const pack = (await packfiles(repo.dir)).sort((a, b) => b.size - a.size)[0]
    await truncate(pack.path, Math.floor(pack.size / 2))

    const b = await repo.run(['backup', '--json', src])
    expect(b.exitCode, String(b.stderr)).toBe(0)
    const json = JSON.parse(String(b.stdout)) as {id: string; lostPackfiles: string[]; recovered: number}
    expect(json.lostPackfiles).toEqual([pack.id])
    expect(json.recovered).toBeGreaterThan(0)
    expect(String(b.stderr)).toMatch(new RegExp(`1 packfile \\(${pack.id.slice(0, 16)}\\) .*truncated in the storage`))
    const out = join(env.s.dir, `out-truncated-${copies}`)
    const r = await repo.run(['restore', '--to', out, json.id])
    expect(r.exitCode, String(r.stderr)).toBe(0)
    expect(await compareTrees(src, out)).toEqual([])
    const again = await repo.run(['backup', '--json', src])
    expect((JSON.parse(String(again.stdout)) as {lostPackfiles: string[]}).lostPackfiles).toEqual([])
  })

  it('check --fast fails on the older snapshot; repair makes it whole from the source and names what it cannot save', async () => {
    const repo = await copy()
    const [pack] = await packfiles(repo.dir)
    await rm(pack.path)

    const fast = await repo.check('--fast', first)
    expect(fast.r.exitCode).toBe(65)
    const damaged = namedFiles(fast.json)
    expect(damaged.length).toBeGreaterThan(0)

    // One damaged file changed in the source since: it cannot be saved.
    const changed = damaged[0]
    const original = join(env.s.dir, 'original')
    await cp(changed, original)
    await writeFile(changed, 'changed since the backup\n')
    try {
      const r = await repo.run(['repair', '--json'])
      expect(r.exitCode, String(r.stderr)).toBe(65)
      const result = JSON.parse(String(r.stdout)) as {lostPackfiles: string[]; damaged: number; repaired: number; unrepairable: {snapshot: string; path?: string; reason: string}[]}
      expect(result.lostPackfiles).toEqual([pack.id])
      expect(result.damaged).toBe(damaged.length)
      expect(result.repaired).toBe(damaged.length - 1)
      expect(result.unrepairable).toEqual([{snapshot: first, path: changed, reason: 'it changed in the source since the snapshot was taken'}])
      expect(String(r.stderr).trim().split('\n'), String(r.stderr)).toHaveLength(1)

      const after = await repo.check()
      expect(after.r.exitCode).toBe(65)
      expect(namedFiles(after.json)).toEqual([changed])
      const out = join(env.s.dir, 'out-repaired')
      const restored = await repo.run(['restore', '--to', out, first])
      expect(restored.exitCode).toBe(65)
      const rel = changed.slice(src.length + 1)
      await cp(original, changed)
      // The file, and its directory whose mtime the test changed.
      expect(await compareTrees(src, out, {ignore: (p) => p === rel || p === dirname(rel)})).toEqual([])
    } finally {
      await cp(original, changed)
    }

    // With the source back as it was, a second repair saves the last file.
    const second = await repo.run(['repair'])
    expect(second.exitCode, String(second.stderr)).toBe(0)
    expect(String(second.stderr)).toMatch(/repaired 1 of 1 damaged files/)
    expect((await repo.check()).r.exitCode).toBe(0)
  })
})
