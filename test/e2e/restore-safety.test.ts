/**
 * A malicious snapshot cannot make a restore write outside its target. The attacker's tool is
 * the engine itself (core/engine/src/engine/backup.ts) fed by an importer that yields hostile records:
 * "..", empty components, paths outside the root, and a symlink followed by a file below it.
 * The victim restores with the real CLI.
 */
import {mkdir, readdir, writeFile} from 'node:fs/promises'
import {existsSync} from 'node:fs'
import {join, relative} from 'node:path'
import {Readable} from 'node:stream'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {backup as engineBackup} from '../../core/engine/src/engine/backup.js'
import type {FileInfo} from '../../core/sdk/src/interfaces/file-info.js'
import type {Importer, ImportRecord} from '../../core/sdk/src/interfaces/importer.js'
import {Repository} from '../../core/engine/src/repository/repository.js'
import {FsStorage} from '../../plugins/fs/src/storage.js'
import {listPaths} from '../support/tree.js'
import {setup} from './helpers.js'

const now = Date.now()
const dirInfo: FileInfo = {type: 'directory', size: 0, mode: 0o755, mtime: now}

function file(path: string, content = 'pwned\n'): ImportRecord {
  const data = Buffer.from(content)
  return {path, info: {type: 'file', size: data.length, mode: 0o644, mtime: now}, open: async () => Readable.from([data])}
}
function dir(path: string): ImportRecord {
  return {path, info: dirInfo}
}
function symlink(path: string, target: string): ImportRecord {
  return {path, target, info: {type: 'symlink', size: 0, mode: 0o777, mtime: now}}
}

/** The attacker's importer: yields whatever records it is given, verbatim. */
function hostile(root: string, records: ImportRecord[]): Importer {
  return {
    type: 'fs',
    origin: 'attacker',
    root,
    async *scan() {
      yield* records
    },
    async close() {},
  }
}

describe('restore never writes outside its target', () => {
  const env = setup('plakar-safety-')
  const outside = join(env.s.dir, 'outside')
  const marker = `plakar-escape-${process.pid}-${Date.now()}`
  const target = join(env.s.dir, 'victim', 'deep', 'down', 'target')
  let evil: string
  let evilDir: string

  /** Writes a snapshot through the engine, as an attacker with the passphrase could. */
  const craft = async (records: ImportRecord[]): Promise<string> => {
    const repo = await Repository.open(new FsStorage(env.repo), {
      cacheDir: join(env.s.dir, 'attacker-cache'),
      passphrase: async () => Buffer.from(env.plakar.env.PLAKAR_PASSPHRASE),
      logger: {debug() {}, info() {}, warn() {}},
    })
    try {
      const result = await engineBackup(repo, [hostile('/r', records)], {tmpDir: env.s.dir, host: 'attacker', user: 'attacker'})
      return result.id
    } finally {
      await repo.close()
    }
  }

  beforeAll(async () => {
    await mkdir(outside)
    await writeFile(join(outside, 'precious.txt'), 'must survive\n')
    await env.plakar.ok(env.at('create'))
    evil = await craft([
      dir('/r'),
      file('/r/harmless.txt', 'harmless\n'),
      file('/r/../escape-parent.txt'),
      file('/r/sub/../../escape-deep.txt'),
      file(`/r/${'../'.repeat(12)}tmp/${marker}/absolute-via-dotdot.txt`),
      file('/r//double-slash.txt'),
      file('/r/./dot.txt'),
      // An absolute path outside the snapshot root, aimed at an existing file.
      file(`${outside}/precious.txt`, 'overwritten!\n'),
      // Absolute symlink to a directory outside, then a file "below" it.
      symlink('/r/a', outside),
      file('/r/a/planted.txt'),
      // Relative symlink climbing out, then a directory and a file below it.
      symlink('/r/b', `${'../'.repeat(12)}${outside.slice(1)}`),
      dir('/r/b/sub'),
      file('/r/b/sub/planted-too.txt'),
    ])
    // A second snapshot where "a" is a real directory: restored over the first one's symlink.
    evilDir = await craft([dir('/r'), dir('/r/a'), file('/r/a/planted-later.txt')])
  })
  afterAll(() => env.s.cleanup())

  const outsideUntouched = async () => {
    expect(await readdir(outside)).toEqual(['precious.txt'])
    expect(existsSync(join('/tmp', marker))).toBe(false)
    const everything = (await listPaths(env.s.dir)).filter((p) => !p.startsWith('repo') && !p.startsWith('cache') && !p.includes('attacker-cache'))
    const stray = everything.filter((p) => /escape|planted|pwned|double-slash|dot\.txt/.test(p) && !join(env.s.dir, p).startsWith(`${target}/`))
    expect(stray).toEqual([])
  }

  it('crafted a snapshot that really holds the hostile entries', async () => {
    const paths = (await env.plakar.jsonLines<{path: string}>(env.at('ls', '-R', `${evil}:/`))).map((e) => e.path)
    expect(paths).toEqual(
      expect.arrayContaining(['/r/../escape-parent.txt', '/r//double-slash.txt', '/r/a', '/r/a/planted.txt', '/r/b/sub/planted-too.txt', `${outside}/precious.txt`]),
    )
  })

  it('refuses "..", empty and "." components and every symlink escape; exit 1 says so', async () => {
    const r = await env.plakar.run(env.at('restore', '--to', target, evil))
    expect(r.exitCode, String(r.stderr)).toBe(1)
    const stderr = String(r.stderr)
    for (const name of ['escape-parent.txt', 'escape-deep.txt', 'absolute-via-dotdot.txt', 'double-slash.txt', 'dot.txt', 'planted.txt', 'planted-too.txt']) {
      expect(stderr, name).toMatch(new RegExp(`${name.replace('.', '\\.')}.*refused|refused.*${name.replace('.', '\\.')}`))
    }
    await outsideUntouched()
    // What is harmless was restored; the symlinks are there, as symlinks, never followed.
    const restored = await listPaths(target)
    expect(restored).toContain('harmless.txt')
    expect(restored).toContain('a')
    expect(restored).toContain('b')
    expect(restored.filter((p) => p.startsWith('a/') || p.startsWith('b/'))).toEqual([])
  })

  it('restores a path outside the root only inside the target', async () => {
    const whole = join(env.s.dir, 'victim', 'whole')
    const r = await env.plakar.run(env.at('restore', '--to', whole, `${evil}:/`))
    expect(r.exitCode).toBe(1)
    await outsideUntouched()
    const restored = await listPaths(whole)
    expect(restored).toContain(relative('/', join(outside, 'precious.txt')))
  })

  it('refuses a directory over a symlink restored earlier into the same target', async () => {
    const r = await env.plakar.run(env.at('restore', '--to', target, evilDir))
    expect(r.exitCode, String(r.stderr)).toBe(1)
    expect(String(r.stderr)).toMatch(/planted-later\.txt|\/a\b/)
    await outsideUntouched()
  })
})
