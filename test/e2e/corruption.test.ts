/**
 * Damage in the repository is detected and named by `check` (exit 65) and never crashes
 * anything: a flipped byte in a data packfile, a truncated state, a deleted packfile. What is
 * not damaged still restores. Each case works on its own copy of one pristine repository, with
 * its own cache directory (a client that has seen, or not seen, the repository before).
 */
import {cp, open, rm, truncate} from 'node:fs/promises'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Result} from 'execa'
import {compareTrees, packfiles, stateFiles, TreeBuilder} from '../support/tree.js'
import {backup, setup} from './helpers.js'

const MiB = 1024 * 1024

interface CheckJson {
  ok: boolean
  problems: {kind: string; message: string; path?: string; packfile?: string; state?: string; snapshot?: string}[]
}

describe('corruption', () => {
  const env = setup('plakar-corrupt-')
  const src = join(env.s.dir, 'src')
  let first: string
  let second: string
  let copies = 0
  /** States written by the second backup. */
  let secondStates: string[] = []

  /** A copy of the pristine repository, and a fresh cache for it, or the warm one. */
  const copy = async (warmCache = false) => {
    const dir = join(env.s.dir, `repo-${++copies}`)
    await cp(env.repo, dir, {recursive: true})
    const cache = join(env.s.dir, `cache-${copies}`)
    if (warmCache) await cp(env.plakar.env.PLAKAR_CACHE_DIR, cache, {recursive: true})
    const options = {env: {PLAKAR_CACHE_DIR: cache}}
    return {
      dir,
      run: (...args: string[]) => env.plakar.run(['at', dir, ...args], options),
      check: async (...args: string[]) => {
        const r = await env.plakar.run(['at', dir, 'check', '--json', ...args], options)
        return {r, json: JSON.parse(String(r.stdout) || '{}') as CheckJson}
      },
    }
  }
  /** Paths named in "plakar: warning: PATH: …" lines of a restore. */
  const failedPaths = (r: Result) =>
    String(r.stderr)
      .split('\n')
      .filter((l) => l.startsWith('plakar: warning: '))
      .map((l) => l.slice('plakar: warning: '.length).split(': ')[0])
      .filter((p) => p.startsWith('/'))
      .sort()
  const namedFiles = (json: CheckJson) => [...new Set(json.problems.filter((p) => p.kind === 'file').map((p) => p.path!))].sort()

  beforeAll(async () => {
    const b = new TreeBuilder(src)
    for (let i = 0; i < 5; i++) await b.randomFile(`data/file-${i}.bin`, 9 * MiB + i)
    for (let i = 0; i < 10; i++) await b.file(`text/note-${i}.txt`, `note ${i}\n`.repeat(50))
    await b.finish()
    await env.plakar.ok(env.at('create'))
    first = (await backup(env, [src])).id
    const firstStates = new Set((await stateFiles(env.repo)).map((s) => s.id))
    await b.randomFile('later/added.bin', 3 * MiB)
    second = (await backup(env, [src])).id
    secondStates = (await stateFiles(env.repo)).map((s) => s.id).filter((id) => !firstStates.has(id))
    // The pristine repository passes.
    await env.plakar.ok(env.at('check'))
  })
  afterAll(() => env.s.cleanup())

  it('names the files of a data packfile with one flipped byte; the rest still restores', async () => {
    const repo = await copy()
    const [pack] = await packfiles(repo.dir) // the largest: a data packfile
    const handle = await open(pack.path, 'r+')
    const at = Math.floor(pack.size / 3)
    const byte = Buffer.alloc(1)
    await handle.read(byte, 0, 1, at)
    byte[0] ^= 0x01
    await handle.write(byte, 0, 1, at)
    await handle.close()

    const {r, json} = await repo.check()
    expect(r.exitCode, String(r.stderr)).toBe(65)
    expect(json.ok).toBe(false)
    expect(json.problems.some((p) => p.kind === 'packfile' && p.packfile === pack.id)).toBe(true)
    const named = namedFiles(json)
    expect(named.length).toBeGreaterThan(0)
    expect(named.every((p) => p.startsWith(`${src}/data/`) || p.startsWith(`${src}/later/`))).toBe(true)
    // The text output names them too, one warning line each.
    const text = await repo.run('check')
    expect(text.exitCode).toBe(65)
    for (const path of named) expect(String(text.stderr)).toContain(path)

    // Restoring the snapshot fails exactly on the named files, and everything else is intact.
    const out = join(env.s.dir, 'out-flip')
    const restored = await repo.run('restore', '--to', out, second)
    expect(restored.exitCode).toBe(65)
    expect(failedPaths(restored)).toEqual(named)
    const damaged = new Set(named.map((p) => p.slice(src.length + 1)))
    expect(await compareTrees(src, out, {ignore: (rel) => damaged.has(rel)})).toEqual([])
    // A damaged file cannot be read by cat either, and says why in one line.
    const cat = await repo.run('cat', `${second}:${named[0]}`)
    expect(cat.exitCode).toBe(65)
    expect(String(cat.stderr).trim().split('\n')).toHaveLength(1)
  })

  it('finds every damaged blob of a packfile wherever it lies (its blobs are opened in slices, on the worker and the main thread)', async () => {
    const repo = await copy()
    const [pack] = await packfiles(repo.dir) // the largest: a data packfile of about 16 MiB
    // Four flips 30 % of the packfile apart: more than the largest chunk (4 MiB), so four
    // different chunks, in different slices of the verification (at most 1 MiB each).
    const handle = await open(pack.path, 'r+')
    for (const share of [0.05, 0.35, 0.65, 0.95]) {
      const at = Math.floor(pack.size * share)
      const byte = Buffer.alloc(1)
      await handle.read(byte, 0, 1, at)
      byte[0] ^= 0x80
      await handle.write(byte, 0, 1, at)
    }
    await handle.close()

    const {r, json} = await repo.check()
    expect(r.exitCode, String(r.stderr)).toBe(65)
    // A file is named with its first unusable chunk only: four chunks, in two files at least
    // (a data file is 9 MiB).
    expect(namedFiles(json).length).toBeGreaterThanOrEqual(2)
    // The files named are exactly those a restore (which opens each chunk on its own) cannot read.
    const out = join(env.s.dir, 'out-flips')
    const restored = await repo.run('restore', '--to', out, second)
    expect(restored.exitCode).toBe(65)
    expect(failedPaths(restored)).toEqual(namedFiles(json))
  })

  it('makes backup --check fail (65) when the data it reuses is damaged', async () => {
    const repo = await copy(true)
    const [pack] = await packfiles(repo.dir)
    const handle = await open(pack.path, 'r+')
    await handle.write(Buffer.from([0xff, 0x00, 0xff]), 0, 3, Math.floor(pack.size / 2))
    await handle.close()
    // Nothing changed in the source: the new snapshot reuses every chunk, damaged ones included.
    const r = await repo.run('backup', '--check', src)
    expect(r.exitCode, String(r.stderr)).toBe(65)
  })

  it('detects and names a truncated state, and other commands still work', async () => {
    for (const warm of [true, false]) {
      const repo = await copy(warm)
      // Truncate the state written by the second backup: the first snapshot stays whole.
      expect(secondStates.length).toBeGreaterThanOrEqual(1)
      const newest = (await stateFiles(repo.dir)).find((s) => s.id === secondStates[0])!
      await truncate(newest.path, Math.floor(newest.size / 2))

      const {r, json} = await repo.check()
      expect(r.exitCode, `${warm ? 'warm' : 'fresh'} cache: ${r.stderr}`).toBe(65)
      expect(json.problems.some((p) => p.kind === 'state' && p.state === newest.id), JSON.stringify(json.problems)).toBe(true)
      expect(String(r.stderr)).not.toMatch(/^\s+at /m)

      // No crash: ls and a restore of the first snapshot work.
      const ls = await repo.run('ls', '--json')
      expect(ls.exitCode, String(ls.stderr)).toBe(0)
      expect(String(ls.stdout)).toContain(first)
      const out = join(env.s.dir, `out-state-${warm ? 'warm' : 'fresh'}`)
      const restored = await repo.run('restore', '--to', out, first)
      expect(restored.exitCode, String(restored.stderr)).toBe(0)
      expect(await compareTrees(src, out, {ignore: (rel) => rel === 'later'})).toEqual([])
    }
  })

  it('names the files of a deleted packfile, with and without --fast; the rest still restores', async () => {
    const repo = await copy(true)
    const [pack] = await packfiles(repo.dir)
    await rm(pack.path)

    const fast = await repo.check('--fast')
    expect(fast.r.exitCode, String(fast.r.stderr)).toBe(65)
    const named = namedFiles(fast.json)
    expect(named.length).toBeGreaterThan(0)
    expect(fast.json.problems.every((p) => p.kind !== 'file' || p.message.includes(pack.id.slice(0, 16)))).toBe(true)

    const full = await repo.check()
    expect(full.r.exitCode).toBe(65)
    expect(namedFiles(full.json)).toEqual(named)

    const out = join(env.s.dir, 'out-deleted')
    const restored = await repo.run('restore', '--to', out, second)
    expect(restored.exitCode).toBe(65)
    expect(failedPaths(restored)).toEqual(named)
    const damaged = new Set(named.map((p) => p.slice(src.length + 1)))
    expect(await compareTrees(src, out, {ignore: (rel) => damaged.has(rel)})).toEqual([])
  })
})

