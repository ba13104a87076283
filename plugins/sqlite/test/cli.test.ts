/**
 * End to end with the real CLI (bin/run.js, built): a repository in one SQLite file — backup,
 * bit-exact restore, near-zero second backup, check, two backups from two processes at once.
 */
import {existsSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import type {Result} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {Plakar, scratch} from '../../../test/support/cli.js'
import {compareTrees, TreeBuilder} from '../../../test/support/tree.js'

const MiB = 1024 * 1024
const s = scratch('plakar-e2e-sqlite-')
const plakar = new Plakar(s.dir, {NODE_ENV: undefined as unknown as string})
const db = join(s.dir, 'repos', 'main.db')
const at = ['at', `sqlite:${db}`]
let source: string

async function ok(args: string[]): Promise<Result> {
  const r = await plakar.run(args)
  if (r.exitCode !== 0) throw new Error(`plakar ${args.join(' ')} exited ${r.exitCode}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`)
  return r
}
const backupJson = async (src: string) =>
  JSON.parse(String((await ok([...at, 'backup', '--json', src])).stdout)) as {id: string; addedBytes: number; errors: number}

beforeAll(async () => {
  const tree = new TreeBuilder(join(s.dir, 'source'))
  for (let i = 0; i < 200; i++) await tree.file(`a/b${i % 9}/f${i}.txt`, `line ${i}\n`.repeat(i * 7), {mode: 0o640, mtime: 1_700_000_000.125 + i})
  await tree.randomFile('big/one.bin', 20 * MiB)
  await tree.randomFile('big/two.bin', 5 * MiB)
  await tree.file('empty', '')
  await tree.symlink('link', 'a/b1')
  await tree.hardlink('big/one-again.bin', 'big/one.bin')
  await tree.dir('a', {mode: 0o750, mtime: 1_600_000_000})
  source = await tree.finish()
}, 120_000)
afterAll(() => s.cleanup())

describe('a repository on sqlite:, through the CLI', () => {
  let first: string

  it('create, backup, restore bit-exact, check', async () => {
    await ok([...at, 'create'])
    expect(existsSync(db)).toBe(true)
    const b = await backupJson(source)
    first = b.id
    expect(b.errors).toBe(0)
    const out = join(s.dir, 'restored')
    await ok([...at, 'restore', '--to', out, first])
    expect(await compareTrees(source, out)).toEqual([])
    await ok([...at, 'check', first])
    // Private like the fs layout's files, whatever the umask: the file, its WAL and shared memory.
    for (const file of [db, `${db}-wal`, `${db}-shm`]) if (existsSync(file)) expect(statSync(file).mode & 0o777, file).toBe(0o600)
  })

  it('a second backup of unchanged data uploads almost nothing', async () => {
    const b = await backupJson(source)
    expect(b.id).not.toBe(first)
    expect(b.addedBytes).toBeLessThan(256 * 1024)
  })

  it('two backups from two processes at once both land, and check passes', async () => {
    const other = new TreeBuilder(join(s.dir, 'other'))
    await other.randomFile('x/data.bin', 12 * MiB)
    for (let i = 0; i < 50; i++) await other.file(`y/${i}.txt`, `other ${i}\n`.repeat(100))
    await other.finish()
    const [a, b] = await Promise.all([plakar.run([...at, 'backup', '--json', source]), plakar.run([...at, 'backup', '--json', join(s.dir, 'other')])])
    expect(a.exitCode, String(a.stderr)).toBe(0)
    expect(b.exitCode, String(b.stderr)).toBe(0)
    const snapshot = (JSON.parse(String(b.stdout)) as {id: string}).id
    await ok([...at, 'check'])
    const out = join(s.dir, 'restored-other')
    await ok([...at, 'restore', '--to', out, snapshot])
    expect(await compareTrees(join(s.dir, 'other'), out)).toEqual([])
  }, 300_000)

  it('errors: no repository (66), not a database (1), wrong passphrase (77) — one line each', async () => {
    const missing = await plakar.run(['at', `sqlite:${join(s.dir, 'nope.db')}`, 'ls'])
    expect(missing.exitCode).toBe(66)
    expect(String(missing.stderr).trim().split('\n')).toHaveLength(1)
    expect(existsSync(join(s.dir, 'nope.db')), 'ls must not create a database').toBe(false)
    writeFileSync(join(s.dir, 'junk.db'), Buffer.alloc(4096, 'j'))
    const junk = await plakar.run(['at', `sqlite:${join(s.dir, 'junk.db')}`, 'ls'])
    expect(junk.exitCode).toBe(1)
    expect(String(junk.stderr).trim()).toMatch(/^plakar: sqlite:.*junk\.db is not an SQLite database$/)
    const wrong = await plakar.run([...at, 'ls'], {env: {PLAKAR_PASSPHRASE: 'wrong'}})
    expect(wrong.exitCode).toBe(77)
    expect(String(wrong.stderr).trim().split('\n')).toHaveLength(1)
  })
})
