/**
 * A restore target that fills up ends the restore with one line (exit 1) instead of one
 * warning per remaining file; a backup whose repository disk fills up fails the same way, and
 * the repository stays usable once space is freed. Uses a 2 MiB tmpfs (needs root, as CI has).
 */
import {execFileSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {setup} from './helpers.js'

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
    const {snapshot} = await env.plakar.json<{snapshot: string}>(env.at('backup', src))
    const r = await env.plakar.run(env.at('restore', '--to', join(mnt, 'out'), snapshot))
    expect(r.exitCode).toBe(1)
    const lines = String(r.stderr).trim().split('\n')
    expect(lines, String(r.stderr)).toHaveLength(1)
    expect(lines[0]).toMatch(/^plakar: the restore target is full: .*free some space/)
    execFileSync('rm', ['-rf', join(mnt, 'out')])
  })

  it('fails a backup into a full repository with one line, and the repository still works', async () => {
    const repo = join(mnt, 'repo')
    await env.plakar.ok(['at', repo, 'create'])
    const r = await env.plakar.run(['at', repo, 'backup', src])
    expect(r.exitCode).toBe(1)
    expect(String(r.stderr).trim().split('\n'), String(r.stderr)).toHaveLength(1)
    expect(String(r.stderr)).toMatch(/no space left/)
    // What was stored before is intact, and a smaller backup goes through.
    const check = await env.plakar.run(['at', repo, 'check'])
    expect(check.exitCode, String(check.stderr)).toBe(0)
    execFileSync('sh', ['-c', `find ${repo} -name '*.tmp' -delete`])
    await env.plakar.ok(['at', repo, 'backup', small])
    expect((await env.plakar.ok(['at', repo, 'check'])).exitCode).toBe(0)
  })
})
