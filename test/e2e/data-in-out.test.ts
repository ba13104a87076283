/**
 * Data in and out as streams: a dump piped into `backup stdin:NAME`, a tar or tar.gz archive
 * (file or standard input, made by GNU tar) backed up as a tree, and `archive` writing a subtree
 * as tar, tar.gz or zip that GNU tar and unzip extract bit-exact.
 */
import {execa} from 'execa'
import {mkdir, readdir, readFile, stat} from 'node:fs/promises'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {BIN} from '../support/cli.js'
import {compareTrees, TreeBuilder} from '../support/tree.js'
import {backup, expectOneLineError, setup, streamStdout, type Env} from './helpers.js'

let env: Env
let src: string
let snapshot: string

/** Runs plakar with `input` piped into its standard input from a file (streamed, not buffered). */
async function piped(args: string[], input: string) {
  return execa('node', [BIN, ...args], {env: env.plakar.env, extendEnv: true, reject: false, cwd: env.plakar.home, inputFile: input, encoding: 'utf8'})
}

beforeAll(async () => {
  env = setup('plakar-data-io-')
  await env.plakar.ok(env.at('create'))
  src = join(env.s.dir, 'src')
  let clock = 1_600_000_000
  const t = () => (clock += 3600) + 0.25
  const b = new TreeBuilder(src)
  await b.dir('', {mode: 0o755, mtime: t()})
  await b.file('notes.txt', 'some notes\n', {mode: 0o640, mtime: t()})
  await b.file('empty', '', {mtime: t()})
  await b.randomFile('data/big.bin', 9 * 1024 * 1024 + 7, {mode: 0o600, mtime: t()})
  await b.file('data/script.sh', '#!/bin/sh\necho hi\n', {mode: 0o755, mtime: t()})
  await b.dir('data', {mode: 0o750, mtime: t()})
  await b.dir('empty-dir', {mode: 0o700, mtime: t()})
  await b.symlink('link-to-notes', 'notes.txt', {mtime: t()})
  await b.symlink('dangling', '../nowhere', {mtime: t()})
  await b.file('odd name with space & ünïcode.txt', 'odd\n', {mtime: t()})
  await b.finish()
  snapshot = (await backup(env, [src])).id
})

afterAll(() => env?.s.cleanup())

describe('backup stdin:NAME', () => {
  it('stores what arrives on standard input as one file, and cat gives it back byte for byte', async () => {
    const dump = join(env.s.dir, 'dump.sql')
    const b = new TreeBuilder(env.s.dir)
    const digest = await b.randomFile('dump.sql', 25 * 1024 * 1024 + 3)
    const r = await piped(env.at('backup', '--json', 'stdin:db.sql'), dump)
    expect(r.exitCode, String(r.stderr)).toBe(0)
    const id = (JSON.parse(String(r.stdout)) as {id: string}).id
    const listing = await env.plakar.jsonLines<{path: string; size: number; mode: string}>(env.at('ls', id))
    expect(listing.map((e) => e.path)).toEqual(['/db.sql'])
    const out = await streamStdout(env.plakar, env.at('cat', `${id}:db.sql`))
    expect(out.exitCode, out.stderr).toBe(0)
    expect(out.bytes).toBe(25 * 1024 * 1024 + 3)
    expect(out.sha256).toBe(digest)
    // A second dump of the same data adds (almost) nothing: chunks deduplicate.
    const again = await piped(env.at('backup', '--json', 'stdin:db.sql'), dump)
    expect((JSON.parse(String(again.stdout)) as {addedBytes: number}).addedBytes).toBeLessThan(64 * 1024)
  })

  it('refuses a name that would climb out of the snapshot', async () => {
    const r = await piped(env.at('backup', 'stdin:../etc/passwd'), join(src, 'notes.txt'))
    expectOneLineError(r, 2, /\.\./)
  })
})

describe('backup tar: and tgz:', () => {
  it('reads a GNU tar archive as a tree: content, modes, times, symlinks, empty directories', async () => {
    const tarFile = join(env.s.dir, 'src.tar')
    await execa('tar', ['--format=pax', '-C', src, '-cf', tarFile, '.'])
    const id = (await backup(env, [`tar:${tarFile}`])).id
    const out = join(env.s.dir, 'from-tar')
    await env.plakar.ok(env.at('restore', '--to', out, id))
    expect(await compareTrees(src, out)).toEqual([])
  })

  it('reads a tar.gz from standard input (tgz:-) and detects gzip behind tar:', async () => {
    const tgz = join(env.s.dir, 'src.tgz')
    await execa('tar', ['--format=pax', '-C', src, '-czf', tgz, '.'])
    for (const location of ['tgz:-', 'tar:-']) {
      const r = await piped(env.at('backup', '--json', location), tgz)
      expect(r.exitCode, String(r.stderr)).toBe(0)
      const id = (JSON.parse(String(r.stdout)) as {id: string}).id
      const out = join(env.s.dir, `from-${location.slice(0, 3)}-stdin`)
      await env.plakar.ok(env.at('restore', '--to', out, id))
      expect(await compareTrees(src, out)).toEqual([])
    }
  })

  it('keeps hard links from a file (one file again after restore), and names them as errors from standard input', async () => {
    const dir = join(env.s.dir, 'hard')
    const b = new TreeBuilder(dir)
    await b.file('a/original', 'linked content\n', {mtime: 1_600_000_000})
    await b.hardlink('b/second', 'a/original')
    await b.hardlink('b/third', 'a/original')
    await b.finish()
    const tarFile = join(env.s.dir, 'hard.tar')
    await execa('tar', ['-C', dir, '-cf', tarFile, 'a', 'b'])
    const id = (await backup(env, [`tar:${tarFile}`])).id
    for (const path of ['a/original', 'b/second', 'b/third']) {
      const r = await env.plakar.ok(env.at('cat', `${id}:${path}`))
      expect(r.stdout).toBe('linked content\n')
    }
    const out = join(env.s.dir, 'hard-restored')
    await env.plakar.ok(env.at('restore', '--to', out, id))
    const [original, second, third] = await Promise.all(['a/original', 'b/second', 'b/third'].map((p) => stat(join(out, p))))
    expect(original.nlink).toBe(3)
    expect(second.ino).toBe(original.ino)
    expect(third.ino).toBe(original.ino)
    // A subtree without the target restores its links as one file too.
    const sub = join(env.s.dir, 'hard-sub')
    await env.plakar.ok(env.at('restore', '--to', sub, `${id}:/b`))
    const [s2, s3] = await Promise.all(['second', 'third'].map((p) => stat(join(sub, p))))
    expect(s3.ino).toBe(s2.ino)
    expect(await readFile(join(sub, 'third'), 'utf8')).toBe('linked content\n')
    const r = await piped(env.at('backup', 'tar:-'), tarFile)
    expect(r.exitCode).toBe(1)
    expect(String(r.stderr)).toMatch(/b\/second: a hard link to \/a\/original/)
  })

  it('fails with one line for a missing archive and for data that is not a tar archive', async () => {
    expectOneLineError(await env.plakar.run(env.at('backup', `tar:${join(env.s.dir, 'missing.tar')}`)), 66, /no such archive/)
    const r = await piped(env.at('backup', 'tar:-'), join(src, 'data/big.bin'))
    expect(r.exitCode).not.toBe(0)
    expect(String(r.stderr)).toMatch(/not a readable tar archive/)
  })
})

describe('archive', () => {
  it('writes tar, tgz and zip that GNU tar and unzip extract bit-exact', async () => {
    for (const [format, extract] of [
      ['tar', (file: string, dir: string) => execa('tar', ['-xpf', file, '-C', dir])],
      ['tgz', (file: string, dir: string) => execa('tar', ['-xpzf', file, '-C', dir])],
      ['zip', (file: string, dir: string) => execa('unzip', ['-q', file, '-d', dir])],
    ] as const) {
      const file = join(env.s.dir, `out.${format}`)
      const result = await env.plakar.json<{bytes: number; format: string; skipped: number}>(env.at('archive', '--format', format, '-o', file, snapshot))
      expect(result.bytes).toBe((await stat(file)).size)
      expect(result.skipped).toBe(0)
      const dir = join(env.s.dir, `extracted-${format}`)
      await mkdir(dir)
      await extract(file, dir)
      // Names start with the archived directory's own name.
      expect(await readdir(dir)).toEqual(['src'])
      // zip keeps whole seconds (unzip reads the extended timestamp), and unzip sets no time on
      // directories it creates before their files nor on symbolic links.
      const tolerance = format === 'zip' ? 1_000_000_000n : 2000n
      const diffs = await compareTrees(src, join(dir, 'src'), {mtimeToleranceNs: tolerance})
      expect(diffs.filter((d) => !(format === 'zip' && /(directory|symlink) mtime/.test(d)))).toEqual([])
    }
  })

  it('streams a subtree to standard output for a pipe', async () => {
    const r = await execa('sh', ['-c', `node ${JSON.stringify(BIN)} at ${JSON.stringify(env.repo)} archive ${snapshot}:data | tar -tvf -`], {env: env.plakar.env, extendEnv: true})
    expect(r.stdout).toMatch(/data\/big\.bin/)
    expect(r.stdout).toMatch(/data\/script\.sh/)
    expect(r.stdout).not.toMatch(/notes/)
    const single = await streamStdout(env.plakar, env.at('archive', '-o', '-', `${snapshot}:data/big.bin`))
    expect(single.exitCode, single.stderr).toBe(0)
  })

  it('leaves no file behind when it fails, and errors are one line with their exit code', async () => {
    const file = join(env.s.dir, 'never.tar')
    expectOneLineError(await env.plakar.run(env.at('archive', '-o', file, `${snapshot}:no/such/path`)), 66)
    expectOneLineError(await env.plakar.run(env.at('archive', '-o', file, 'ffffffff')), 66)
    expectOneLineError(await env.plakar.run(env.at('archive', '--format', 'rar', '-o', file, snapshot)), 2)
    expectOneLineError(await env.plakar.run(env.at('archive', '--json', '-o', '-', snapshot)), 2)
    expect((await readdir(env.s.dir)).filter((n) => n.includes('never'))).toEqual([])
  })
})
