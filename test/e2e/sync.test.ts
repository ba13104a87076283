/**
 * plakar sync between two repositories, through the CLI: peers made with `create --from` copy
 * sealed packfiles as they are, other repositories (another passphrase and chunking, on SQLite)
 * re-encode; both keep snapshot ids and give bit-exact restores; a second sync after a small
 * change moves about the new packfiles; `with` goes both ways; `--dry-run` copies nothing; a
 * sync killed with SIGKILL at several moments finishes on the next run without copying whole
 * packfiles twice, and both repositories pass check.
 */
import {execa} from 'execa'
import {watch} from 'node:fs'
import {appendFile, mkdir} from 'node:fs/promises'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {BIN} from '../support/cli.js'
import {Terminal} from '../support/terminal.js'
import {compareTrees, packfiles, TreeBuilder} from '../support/tree.js'
import {backup, expectOneLineError, setup, type Env} from './helpers.js'

interface SyncJson {
  dryRun: boolean
  movedBytes: number
  toMoveBytes?: number
  savedBytes: number
  directions: {sender: string; receiver: string; method: string; present: string[]; copies: {id: string; method: string; movedBytes: number; toMoveBytes: number; packfiles: number; adoptedPackfiles: number}[]}[]
}

let env: Env
let src: string
const peer = () => join(env.s.dir, 'peer')

const ids = async (repo: string, passphrase?: string) =>
  (await env.plakar.jsonLines<{id: string}>(['at', repo, 'ls'], passphrase ? {env: {PLAKAR_PASSPHRASE: passphrase}} : {})).map((s) => s.id)

const sum = (list: {size: number}[]) => list.reduce((n, p) => n + p.size, 0)

beforeAll(async () => {
  env = setup('plakar-sync-')
  await env.plakar.ok(env.at('create'))
  src = join(env.s.dir, 'src')
  const b = new TreeBuilder(src)
  for (let i = 0; i < 40; i++) await b.randomFile(`data/file-${i}.bin`, 512 * 1024 + i * 4099)
  await b.randomFile('big/one.bin', 24 * 1024 * 1024)
  await b.file('notes/readme.txt', 'first version\n', {mode: 0o640})
  await b.symlink('notes/link', 'readme.txt')
  await b.finish()
  await backup(env, [src, '--tag', 'first'])
})

afterAll(() => env?.s.cleanup())

describe('sync between peers (create --from)', () => {
  it('copies sealed packfiles whole, keeps ids, and restores bit-exact from the peer', async () => {
    await env.plakar.ok(['at', peer(), 'create', '--from', env.repo])
    const plan = await env.plakar.json<SyncJson>(env.at('sync', '--dry-run', 'to', peer()))
    expect(plan.dryRun).toBe(true)
    expect(plan.directions[0].method).toBe('copy')
    expect(plan.toMoveBytes).toBeGreaterThan(30 * 1024 * 1024)
    expect(await ids(peer())).toEqual([])
    expect(await packfiles(peer())).toEqual([])

    const first = await env.plakar.json<SyncJson>(env.at('sync', 'to', peer()))
    expect(first.directions[0].copies).toHaveLength(1)
    expect(first.directions[0].copies[0].packfiles).toBeGreaterThan(0)
    // The packfiles are the same objects on both sides.
    const sourcePacks = new Map((await packfiles(env.repo)).map((p) => [p.id, p.size]))
    for (const p of await packfiles(peer())) expect(sourcePacks.get(p.id)).toBe(p.size)
    expect(await ids(peer())).toEqual(await ids(env.repo))
    const out = join(env.s.dir, 'from-peer')
    await env.plakar.ok(['at', peer(), 'restore', '--to', out, 'latest'])
    expect(await compareTrees(src, out)).toEqual([])
    await env.plakar.ok(['at', peer(), 'check'])
  })

  it('a second sync after a small change moves about the new packfiles only', async () => {
    const before = new Set((await packfiles(env.repo)).map((p) => p.id))
    const peerBefore = sum(await packfiles(peer()))
    await appendFile(join(src, 'notes/readme.txt'), 'second version\n')
    await new TreeBuilder(src).randomFile('data/new.bin', 700 * 1024)
    await backup(env, [src])
    const added = sum((await packfiles(env.repo)).filter((p) => !before.has(p.id)))
    const result = await env.plakar.json<SyncJson>(env.at('sync', 'to', peer()))
    expect(result.directions[0].present).toHaveLength(1)
    expect(result.directions[0].copies).toHaveLength(1)
    const moved = sum(await packfiles(peer())) - peerBefore
    expect(moved).toBeGreaterThan(0)
    expect(moved).toBeLessThanOrEqual(added * 1.2)
    // Nothing left to do.
    const again = await env.plakar.json<SyncJson>(env.at('sync', 'to', peer()))
    expect(again.directions[0].copies).toHaveLength(0)
    expect(again.movedBytes).toBe(0)
  })

  it('on a terminal, the progress line shows the bytes to move and the bytes already there', async () => {
    await new TreeBuilder(src).randomFile('data/newer.bin', 900 * 1024)
    await backup(env, [src])
    const term = new Terminal(env.plakar, env.at('sync', 'to', peer()), {columns: 200})
    expect((await term.exited).code, term.output).toBe(0)
    const size = String.raw`(\d+(?:\.\d+)? (?:B|KiB|MiB|GiB))`
    // The first drawing comes once the snapshot's plan is made: nothing moved yet.
    const line = new RegExp(String.raw`sync \S+ → \S+ │ 0/1 snapshot │ 0 B/${size} │ [^\n]*?${size} already there`).exec(term.output)
    expect(line, term.output).not.toBeNull()
    const summary = new RegExp(String.raw`synced 1 snapshots: ${size} moved, ${size} already there`).exec(term.output)
    expect(summary, term.output).not.toBeNull()
    expect(line![1]).toBe(summary![1])
    expect(line![2]).toBe(summary![2])
    // Most of the snapshot was there already; the new file is what moves.
    expect(line![2]).toMatch(/MiB/)
    expect(line![1]).toMatch(/KiB|MiB/)
  })

  it('"with" copies both ways', async () => {
    const other = join(env.s.dir, 'elsewhere')
    await mkdir(other)
    await new TreeBuilder(other).file('only-on-peer.txt', 'peer data\n')
    const id = (await env.plakar.json<{id: string}>(['at', peer(), 'backup', other])).id
    await new TreeBuilder(other).file('only-here.txt', 'here data\n')
    const mine = (await backup(env, [other])).id
    await env.plakar.json<SyncJson>(env.at('sync', 'with', peer()))
    const here = await ids(env.repo)
    const there = await ids(peer())
    expect(here).toContain(id)
    expect(there).toContain(mine)
    expect([...here].sort()).toEqual([...there].sort())
    const r = await env.plakar.ok(env.at('cat', `${id}:only-on-peer.txt`))
    expect(r.stdout).toBe('peer data\n')
  })
})

describe('sync between repositories that are not peers', () => {
  it('re-encodes into a SQLite repository with another passphrase and chunking, ids and content kept', async () => {
    const db = `sqlite:${join(env.s.dir, 'other.db')}`
    const other = {PLAKAR_PASSPHRASE: 'another passphrase'}
    await env.plakar.ok(['at', db, 'create', '--chunking', '65536:262144:1048576'], {env: other})
    const result = await env.plakar.json<SyncJson>(['at', db, 'sync', '--tag', 'first', 'from', env.repo], {env: {...other, PLAKAR_PEER_PASSPHRASE: env.plakar.env.PLAKAR_PASSPHRASE}})
    expect(result.directions[0].method).toBe('re-encode')
    const firstId = (await env.plakar.jsonLines<{id: string; tags: string[]}>(env.at('ls', '--tag', 'first')))[0].id
    expect(await ids(db, other.PLAKAR_PASSPHRASE)).toEqual([firstId])
    const out = join(env.s.dir, 'from-sqlite')
    await env.plakar.ok(['at', db, 'restore', '--to', out, firstId], {env: other})
    const diffs = await compareTrees(src, out, {ignore: (rel) => rel === 'data/new.bin' || rel === 'data/newer.bin'})
    // The tree changed after the first snapshot: only the readme and data/'s mtime differ.
    expect(diffs.filter((d) => !d.startsWith('"notes/readme.txt"') && !d.startsWith('"data": directory mtime'))).toEqual([])
    await env.plakar.ok(['at', db, 'check'], {env: other})
  })

  it('says which passphrase is wrong, in one line', async () => {
    const db = `sqlite:${join(env.s.dir, 'other.db')}`
    const r = await env.plakar.run(env.at('sync', 'to', db), {env: {PLAKAR_PEER_PASSPHRASE: 'not it'}})
    expectOneLineError(r, 77, /passphrase/)
    expectOneLineError(await env.plakar.run(env.at('sync', 'to')), 2)
    expectOneLineError(await env.plakar.run(env.at('sync', 'to', env.repo)), 2, /this repository/)
    expectOneLineError(await env.plakar.run(env.at('sync', 'to', join(env.s.dir, 'nothing-here'))), 66)
  })
})

/** Runs a sync and kills it with SIGKILL once the target has stored `after` more packfiles. */
async function killDuring(args: string[], target: string, after: number): Promise<void> {
  const child = execa('node', [BIN, ...args], {env: env.plakar.env, extendEnv: true, reject: false, cwd: env.plakar.home})
  let seen = 0
  const watcher = watch(join(target, 'packfiles'), {recursive: true}, (_event, name) => {
    if (!name || name.endsWith('.tmp') || !/[0-9a-f]{64}$/.test(String(name))) return
    if (++seen === after) child.kill('SIGKILL')
  })
  try {
    await child
  } finally {
    watcher.close()
  }
}

describe('resuming a killed sync', () => {
  it('finishes after SIGKILL at three moments, copies no whole packfile twice, and both repositories pass check', async () => {
    const target = join(env.s.dir, 'resumed')
    await env.plakar.ok(['at', target, 'create', '--from', env.repo])
    await mkdir(join(target, 'packfiles'), {recursive: true})
    const total = (await packfiles(env.repo)).length
    for (const [i, after] of [1, Math.max(2, Math.floor(total / 3)), Math.max(3, Math.floor((2 * total) / 3))].entries()) {
      await killDuring(env.at('sync', 'to', target), target, after)
      // Killed after its first packfile, the first run cannot have named a snapshot yet.
      if (i === 0) expect(await ids(target)).toEqual([])
      await env.plakar.ok(['at', target, 'check'])
    }
    await env.plakar.json<SyncJson>(env.at('sync', 'to', target))
    expect(await ids(target)).toEqual(await ids(env.repo))
    await env.plakar.ok(['at', target, 'check'])
    await env.plakar.ok(env.at('check'))
    // Every stored byte was stored once: the target holds no more than the source (packfiles
    // copied whole have the same ids), give or take packfiles rebuilt from partial copies.
    const source = sum(await packfiles(env.repo))
    const stored = sum(await packfiles(target))
    expect(stored).toBeLessThanOrEqual(source * 1.05)
  }, 900_000)
})
