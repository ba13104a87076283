/**
 * Unreadable source entries are recorded as errors in the snapshot and the backup goes on
 * (exit 1, as docs/commands/backup.md says); everything else restores. Tests run as root, who
 * can read anything, so plakar runs here as an unprivileged user (nobody).
 */
import {chmod, chown, mkdir} from 'node:fs/promises'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {scratch, type Plakar} from '../support/cli.js'
import {compareTrees, TreeBuilder} from '../support/tree.js'
import {runAs, userPlakar} from './helpers.js'

const isRoot = process.getuid?.() === 0
/** nobody:nogroup when root; ourselves otherwise (a 000 file is unreadable to us too). */
const UID = isRoot ? 65534 : process.getuid!()
const GID = isRoot ? 65534 : process.getgid!()

interface LsEntry {
  path: string
  type: string
  error?: string
}

describe('unreadable files and directories', () => {
  const s = scratch('plakar-unreadable-')
  const home = join(s.dir, 'home')
  const src = join(s.dir, 'src')
  const repo = join(home, 'repo')
  let plakar: Plakar
  const run = (...args: string[]) => runAs(plakar, UID, GID, ['at', repo, ...args])
  let id: string

  beforeAll(async () => {
    await chmod(s.dir, 0o755)
    await mkdir(home)
    await chown(home, UID, GID)
    plakar = userPlakar(home)
    const b = new TreeBuilder(src)
    await b.dir('', {mode: 0o755})
    await b.file('readable.txt', 'anyone can read this\n', {mode: 0o644})
    await b.file('secret.txt', 'nobody may read this\n', {mode: 0o000})
    await b.file('locked-dir/inner.txt', 'behind a locked door\n')
    await b.dir('locked-dir', {mode: 0o000})
    await b.file('sub/ok.txt', 'fine\n', {mode: 0o444})
    await b.file('sub/deeper/also-ok.txt', 'fine too\n')
    await b.symlink('sub/link-to-secret', '../secret.txt')
    await b.finish()
    const created = await run('create')
    expect(created.exitCode, String(created.stderr)).toBe(0)
  })
  afterAll(() => s.cleanup())

  it('records them as errors, backs up the rest and exits 1', async () => {
    const r = await run('backup', '--json', src)
    expect(r.exitCode, String(r.stderr)).toBe(1)
    const out = JSON.parse(String(r.stdout)) as {id: string; errors: number; files: number}
    id = out.id
    expect(id).toMatch(/^[0-9a-f]{64}$/)
    expect(out.errors).toBe(2)
    const stderr = String(r.stderr)
    expect(stderr).toMatch(new RegExp(`${src}/secret\\.txt: permission denied`))
    expect(stderr).toMatch(new RegExp(`${src}/locked-dir: permission denied`))
    expect(stderr).not.toMatch(/^\s+at /m)
  })

  it('lists them with their error in ls --json, and nothing below the locked directory', async () => {
    const r = await run('ls', '-R', '--json', id)
    expect(r.exitCode, String(r.stderr)).toBe(0)
    const entries = String(r.stdout)
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as LsEntry)
    const errors = Object.fromEntries(entries.filter((e) => e.error).map((e) => [e.path.slice(src.length), e.error]))
    expect(errors).toEqual({'/locked-dir': expect.stringMatching(/permission denied/), '/secret.txt': expect.stringMatching(/permission denied/)})
    expect(entries.map((e) => e.path.slice(src.length)).sort()).toEqual([
      '/locked-dir',
      '/readable.txt',
      '/secret.txt',
      '/sub',
      '/sub/deeper',
      '/sub/deeper/also-ok.txt',
      '/sub/link-to-secret',
      '/sub/ok.txt',
    ])
    const info = await run('info', '--json', id)
    expect((JSON.parse(String(info.stdout)) as {summary: {errors: number}}).summary.errors).toBe(2)
  })

  it('restores everything else bit-exact; the restore names the two and exits 1', async () => {
    const out = join(home, 'out')
    const r = await run('restore', '--to', out, id)
    expect(r.exitCode, String(r.stderr)).toBe(1)
    expect(String(r.stderr)).toMatch(/secret\.txt/)
    expect(String(r.stderr)).toMatch(/locked-dir/)
    const diffs = await compareTrees(src, out, {ignore: (rel) => rel === 'secret.txt' || rel.startsWith('locked-dir')})
    expect(diffs).toEqual([])
  })

  it('passes check: an entry that could not be read is not damage', async () => {
    const r = await run('check')
    expect(r.exitCode, String(r.stderr)).toBe(0)
  })
})
