/**
 * A restore target that fills up ends the restore with one line (exit 1) instead of one
 * warning per remaining file; a backup whose repository disk fills up fails the same way (JSON
 * under --json), removes what it stored, releases its lock, and the repository stays usable
 * (issue 11.3). Uses a 2 MiB tmpfs (needs root, as CI has). The leftovers of a killed writer
 * (its lock, abandoned temporary files) are removed by the next writer.
 */
import {execa} from 'execa'
import {execFileSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {mkdirSync, readdirSync, utimesSync, watch, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {BIN} from '../support/cli.js'
import {expectOneLineError, setup} from './helpers.js'

/** Every file below `dir`, as paths relative to it. */
function filesBelow(dir: string): string[] {
  return (readdirSync(dir, {recursive: true, withFileTypes: true}) as import('node:fs').Dirent[])
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name).slice(dir.length + 1))
    .sort()
}

describe('a full disk', () => {
  const env = setup('plakar-full-disk-')
  const src = join(env.s.dir, 'src')
  const small = join(env.s.dir, 'small')
  const mnt = join(env.s.dir, 'tiny')

  beforeAll(async () => {
    mkdirSync(src, {recursive: true})
    mkdirSync(small, {recursive: true})
    // Random, so that neither compression nor deduplication shrinks it below the 2 MiB disk.
    for (let i = 0; i < 40; i++) writeFileSync(join(src, `f${i}.bin`), randomBytes(128 * 1024))
    writeFileSync(join(small, 'a.txt'), 'a\n')
    mkdirSync(mnt)
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mnt])
    await env.plakar.ok(env.at('create'))
  })
  afterAll(() => {
    execFileSync('umount', [mnt])
    env.s.cleanup()
  })

  it('stops a restore into a full target with one line', async () => {
    const {id: snapshot} = await env.plakar.json<{id: string}>(env.at('backup', src))
    const r = await env.plakar.run(env.at('restore', '--to', join(mnt, 'out'), snapshot))
    expect(r.exitCode).toBe(1)
    const lines = String(r.stderr).trim().split('\n')
    expect(lines, String(r.stderr)).toHaveLength(1)
    expect(lines[0]).toMatch(/^plakar: the restore target is full: .*free some space/)
    execFileSync('rm', ['-rf', join(mnt, 'out')])
  })

  it('fails a backup into a full repository with one line, leaves nothing behind, and the repository still works', async () => {
    const repo = join(mnt, 'repo')
    await env.plakar.ok(['at', repo, 'create'])
    await env.plakar.ok(['at', repo, 'backup', small])
    const before = filesBelow(repo)
    const r = await env.plakar.run(['at', repo, 'backup', src])
    expectOneLineError(r, 1, /^plakar: no space left on the device: .*free some space/)
    // Its temporary files, the packfiles it stored and its lock are gone: the repository holds
    // exactly what it held before.
    expect(filesBelow(repo)).toEqual(before)

    const json = await env.plakar.run(['at', repo, 'backup', '--json', src])
    expect(json.exitCode).toBe(1)
    const lines = String(json.stderr).trim().split('\n')
    expect(lines, String(json.stderr)).toHaveLength(1)
    expect(JSON.parse(lines[0])).toMatchObject({exitCode: 1, error: expect.stringMatching(/^no space left on the device/)})
    expect(filesBelow(repo)).toEqual(before)

    // What was stored before is intact, and a smaller backup goes through.
    const check = await env.plakar.run(['at', repo, 'check'])
    expect(check.exitCode, String(check.stderr)).toBe(0)
    writeFileSync(join(small, 'b.txt'), 'b\n')
    await env.plakar.ok(['at', repo, 'backup', small])
    expect((await env.plakar.ok(['at', repo, 'check'])).exitCode).toBe(0)
  })

  it('has the next writer remove a killed writer\'s lock and abandoned temporary files, not a fresh one', async () => {
    const locks = join(env.repo, 'locks')
    // kill -9 the backup as soon as its lock exists.
    const watcher = watch(locks)
    const proc = execa('node', [BIN, 'at', env.repo, 'backup', src], {env: env.plakar.env, extendEnv: true, reject: false})
    await new Promise<void>((resolve) => {
      const look = () => {
        if (readdirSync(locks).some((n) => /^[0-9a-f]{64}$/.test(n))) {
          watcher.close()
          resolve()
        }
      }
      watcher.on('change', look)
      look()
    })
    proc.kill('SIGKILL')
    await proc
    expect(readdirSync(locks).filter((n) => /^[0-9a-f]{64}$/.test(n))).toHaveLength(1)
    // What a write killed half-way leaves: one abandoned long ago, one that could be in progress.
    mkdirSync(join(env.repo, 'packfiles', 'ab'), {recursive: true})
    const old = join(env.repo, 'packfiles', 'ab', `${'ab'.repeat(32)}.0123456789ab.tmp`)
    const fresh = join(env.repo, 'states', `${'cd'.repeat(32)}.0123456789ab.tmp`)
    writeFileSync(old, randomBytes(100_000))
    writeFileSync(fresh, randomBytes(1000))
    const hourAgo = Date.now() / 1000 - 3600
    utimesSync(old, hourAgo, hourAgo)

    const r = await env.plakar.ok(env.at('backup', small))
    expect(String(r.stderr)).toMatch(/removed a stale shared lock of pid \d+ on .*: its process is gone/)
    expect(String(r.stderr)).toMatch(/removed 1 temporary objects \(0\.1 MiB\) left by interrupted writes/)
    expect(readdirSync(locks)).toEqual([])
    expect(filesBelow(env.repo).filter((f) => f.endsWith('.tmp'))).toEqual([`states/${'cd'.repeat(32)}.0123456789ab.tmp`])
    await env.plakar.ok(env.at('check'))
  })
})
