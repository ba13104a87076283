/**
 * Round trip: everything a filesystem tree can hold comes back bit-exact — content, types,
 * permission bits, owners, mtimes (files, directories and symlinks), symlink targets (dangling,
 * relative, absolute), hard links (as hard links), odd names, deep nesting, a file over 100 MiB —
 * and the same for a subpath restore and `cat`.
 */
import {readFileSync} from 'node:fs'
import {chmod, copyFile, lstat, mkdir, rm, symlink, utimes, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {compareTrees, sha256, TreeBuilder} from '../support/tree.js'
import {backup, setup, streamStdout} from './helpers.js'

const BIG = 100 * 1024 * 1024 + 12_345
const DEPTH = 45
const NOBODY = 65534

/** Names that break naive code: shell and URL metacharacters, newlines, unicode forms, dashes. */
export const ODD_NAMES = [
  'with space.txt',
  ' leading space',
  'trailing space ',
  'new\nline.txt',
  'tab\there',
  'hash#tag',
  'per%cent%20.txt',
  '-leading-dash',
  '--help',
  '-rf',
  'colon: in name.txt',
  'star*?[x]{a,b}.txt',
  'quote"s\'and`ticks`',
  'back\\slash',
  '$HOME;|&<>',
  '.hidden',
  '..dotdot-prefix',
  '日本語のファイル.txt',
  'café-nfc',
  'cafe\u0301-nfd',
  '🦀 crab.rs',
  'x'.repeat(250) + '.long',
]

/** Distinct mtimes with a sub-millisecond part (the restore must keep more than milliseconds). */
let clock = 1_600_000_000
const t = () => (clock += 3600) + 0.123456

async function buildTree(root: string): Promise<{bigSha: string}> {
  const b = new TreeBuilder(root)
  await b.dir('', {mode: 0o755, mtime: t()})
  // Empty files and an empty directory.
  await b.file('empty.txt', '', {mtime: t()})
  await b.dir('empty-dir', {mtime: t()})
  await b.file('docs/empty-too', '', {mode: 0o640, mtime: t()})
  await b.file('docs/readme.md', '# readme\n\nsome text\n', {mtime: t()})
  await b.dir('docs', {mtime: t()})
  // The big file, streamed to disk.
  const bigSha = await b.randomFile('data/big.bin', BIG, {mode: 0o644, mtime: t()})
  await b.file('data/small.bin', Buffer.from([0, 1, 2, 255, 254, 0, 0, 10, 13]), {mtime: t()})
  await b.dir('data', {mtime: t()})
  // Deep nesting.
  let deep = 'deep'
  for (let i = 0; i < DEPTH; i++) {
    deep += `/level-${String(i).padStart(2, '0')}`
    await b.dir(deep, {mtime: t()})
  }
  await b.file(`${deep}/bottom.txt`, 'at the bottom\n', {mtime: t()})
  await b.dir('deep', {mtime: t()})
  // Odd names, as files and as a directory.
  for (const name of ODD_NAMES) await b.file(`names/${name}`, `content of ${name}\n`, {mtime: t()})
  await b.file('names/-dir with #%\n/inner file', 'inner\n', {mtime: t()})
  await b.dir('names/-dir with #%\n', {mtime: t()})
  await b.dir('names', {mtime: t()})
  // Symlinks: relative, absolute, dangling (both), to a directory, to itself.
  await b.symlink('links/relative', '../docs/readme.md', {mtime: t()})
  await b.symlink('links/absolute', '/etc/hostname', {mtime: t()})
  await b.symlink('links/dangling', 'does/not/exist', {mtime: t()})
  await b.symlink('links/dangling-absolute', '/nonexistent/plakar/target', {mtime: t()})
  await b.symlink('links/to-dir', '../deep', {mtime: t()})
  await b.symlink('links/loop', 'loop', {mtime: t()})
  await b.symlink('links/odd target', 'names/new\nline.txt', {mtime: t()})
  await b.dir('links', {mtime: t()})
  // Hard links: a group of three across directories, and a pair.
  await b.file('hard/a', 'shared by three names\n', {mode: 0o640, mtime: t()})
  await b.hardlink('hard/b', 'hard/a')
  await b.hardlink('other/c', 'hard/a')
  await b.file('hard/x', 'a pair\n', {mtime: t()})
  await b.hardlink('hard/y', 'hard/x')
  await b.dir('hard', {mtime: t()})
  await b.dir('other', {mtime: t()})
  // Modes and owners.
  await b.file('modes/private', 'secret\n', {mode: 0o600, mtime: t()})
  await b.file('modes/exec', '#!/bin/sh\necho hi\n', {mode: 0o755, mtime: t()})
  await b.file('modes/readonly', 'do not touch\n', {mode: 0o444, mtime: t()})
  await b.file('modes/setuid', 'suid\n', {mode: 0o4755, mtime: t()})
  await b.file('modes/nobody-owned', 'owned by nobody\n', {mode: 0o640, uid: NOBODY, gid: NOBODY, mtime: t()})
  await b.file('modes/private-dir/inside', 'inside a 0700 dir\n', {mtime: t()})
  await b.dir('modes/private-dir', {mode: 0o700, mtime: t()})
  await b.file('modes/setgid-dir/inside', 'inside a setgid dir\n', {mtime: t()})
  await b.dir('modes/setgid-dir', {mode: 0o2775, mtime: t()})
  await b.dir('modes/sticky-dir', {mode: 0o1777, mtime: t()})
  await b.dir('modes', {mode: 0o751, mtime: t()})
  await b.finish()
  return {bigSha}
}

describe('round trip of a hostile tree', () => {
  const env = setup('plakar-roundtrip-')
  const src = join(env.s.dir, 'src')
  let id: string
  let bigSha: string

  beforeAll(async () => {
    ;({bigSha} = await buildTree(src))
    await env.plakar.ok(env.at('create'))
    id = (await backup(env, [src])).id
  })
  afterAll(() => env.s.cleanup())

  it('restores the whole tree bit-exact, with modes, owners, mtimes and hard links', async () => {
    const out = join(env.s.dir, 'out-full')
    await env.plakar.ok(env.at('restore', '--to', out, id))
    expect(await compareTrees(src, out, {owner: true, rootMeta: true})).toEqual([])
  })

  it('keeps mtimes below the millisecond (what the snapshot records)', async () => {
    // compareTrees' default tolerance is 2 µs; this names the requirement on its own.
    const out = join(env.s.dir, 'out-mtime')
    await env.plakar.ok(env.at('restore', '--to', out, `${id}:modes`))
    const diffs = await compareTrees(join(src, 'modes'), out, {mtimeToleranceNs: 2000n, rootMeta: true})
    expect(diffs.filter((d) => d.includes('mtime'))).toEqual([])
  })

  it('has a comparer that notices what a broken restore gets wrong', async () => {
    const out = join(env.s.dir, 'out-full')
    await writeFile(join(out, 'docs/readme.md'), '# README\n\nsome text\n') // same size, other bytes
    await chmod(join(out, 'modes/exec'), 0o744)
    const s = await lstat(join(out, 'empty.txt'))
    await utimes(join(out, 'empty.txt'), s.atime, new Date(s.mtimeMs + 1))
    await rm(join(out, 'hard/b'))
    await copyFile(join(out, 'hard/a'), join(out, 'hard/b'))
    await rm(join(out, 'links/dangling'))
    await symlink('does/not/exist/either', join(out, 'links/dangling'))
    await writeFile(join(out, 'extra'), '')
    await rm(join(out, 'data/small.bin'))
    const diffs = await compareTrees(src, out, {owner: true, rootMeta: true})
    const expected = [
      /"docs\/readme.md": content differs/,
      /"modes\/exec": mode 755 became 744/,
      /"empty.txt": file mtime .* \(off by \d{6}ns\)/,
      /"hard\/b": hard-link group \[hard\/a \| hard\/b \| other\/c\] became \[hard\/b\]/,
      /"links\/dangling": symlink target/,
      /"extra": unexpected file/,
      /"data\/small.bin": file missing/,
    ]
    for (const pattern of expected) expect(diffs.some((d) => pattern.test(d)), `${pattern} in ${diffs.join('\n')}`).toBe(true)
  })

  it('restores a subpath given as an absolute path (ID:/abs/sub/dir)', async () => {
    const out = join(env.s.dir, 'out-sub-abs')
    await env.plakar.ok(env.at('restore', '--to', out, `${id}:${src}/hard`))
    // Groups are compared within the restored subtree: other/c, outside it, is not expected.
    expect(await compareTrees(join(src, 'hard'), out, {owner: true, rootMeta: true})).toEqual([])
  })

  it('restores a subpath given relative to the snapshot root, odd names included', async () => {
    const out = join(env.s.dir, 'out-sub-rel')
    await env.plakar.ok(env.at('restore', '--to', out, `${id}:names`))
    expect(await compareTrees(join(src, 'names'), out, {owner: true, rootMeta: true})).toEqual([])
    const deepOut = join(env.s.dir, 'out-deep')
    await env.plakar.ok(env.at('restore', '--to', deepOut, `${id}:/${src.slice(1)}/deep/level-00/level-01`))
    expect(await compareTrees(join(src, 'deep/level-00/level-01'), deepOut, {rootMeta: true})).toEqual([])
  })

  it('restores a single file under its own name', async () => {
    const out = join(env.s.dir, 'out-one')
    await mkdir(out)
    await env.plakar.ok(env.at('restore', '--to', out, `${id}:names/new\nline.txt`))
    expect(readFileSync(join(out, 'new\nline.txt'), 'utf8')).toBe('content of new\nline.txt\n')
    await rm(out, {recursive: true})
  })

  it('cats files byte-exact, odd names included', async () => {
    const bytes = await streamStdout(env.plakar, env.at('cat', `${id}:data/small.bin`))
    expect(bytes.sha256).toBe(sha256(Buffer.from([0, 1, 2, 255, 254, 0, 0, 10, 13])))
    for (const name of ['new\nline.txt', 'colon: in name.txt', '-rf', 'cafe\u0301-nfd']) {
      const r = await env.plakar.ok(env.at('cat', `${id}:${src}/names/${name}`))
      expect(r.stdout, name).toBe(`content of ${name}\n`)
    }
    const empty = await env.plakar.ok(env.at('cat', `${id}:empty.txt`))
    expect(empty.stdout).toBe('')
  })

  it('cats the big file byte-exact, streamed', async () => {
    const r = await streamStdout(env.plakar, env.at('cat', `${id}:data/big.bin`))
    expect(r.exitCode, r.stderr).toBe(0)
    expect(r.bytes).toBe(BIG)
    expect(r.sha256).toBe(bigSha)
  })
})
