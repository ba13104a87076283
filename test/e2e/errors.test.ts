/**
 * Bad input: each failure is one line on stderr, no stack trace, and the exit code documented
 * in docs (1 error, 2 usage, 66 not found, 77 authentication, 78 format too new).
 */
import {existsSync} from 'node:fs'
import {cp, readFile, rm, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {stateFiles, TreeBuilder} from '../support/tree.js'
import {backup, expectOneLineError, setup} from './helpers.js'

/** Offset of the version byte in every enveloped structure: "PLKR" ‖ type ‖ version. */
const VERSION_BYTE = 5

describe('errors a user can make', () => {
  const env = setup('plakar-errors-')
  const src = join(env.s.dir, 'src')
  let id: string

  beforeAll(async () => {
    const b = new TreeBuilder(src)
    await b.file('a.txt', 'a\n')
    await b.finish()
    await env.plakar.ok(env.at('create'))
    id = (await backup(env, [src])).id
  })
  afterAll(() => env.s.cleanup())

  it('wrong passphrase → 77', async () => {
    const r = await env.plakar.run(env.at('ls'), {env: {PLAKAR_PASSPHRASE: 'not the passphrase'}})
    expectOneLineError(r, 77, /passphrase/)
  })

  it('unknown scheme → 2, for a repository and for a source', async () => {
    expectOneLineError(await env.plakar.run(['at', 'nosuch://host/path', 'ls']), 2, /nosuch/)
    expectOneLineError(await env.plakar.run(env.at('backup', 'nosuch://host/path')), 2, /nosuch/)
  })

  it('missing snapshot id → 66', async () => {
    const missing = id[0] === 'f' ? '0000000000000' : 'ffffffffffffff'
    expectOneLineError(await env.plakar.run(env.at('ls', missing)), 66, /snapshot/)
    expectOneLineError(await env.plakar.run(env.at('restore', '--to', join(env.s.dir, 'x'), missing)), 66)
    expectOneLineError(await env.plakar.run(env.at('cat', `${missing}:a.txt`)), 66)
    // A path missing from an existing snapshot is "not found" too.
    expectOneLineError(await env.plakar.run(env.at('cat', `${id}:no-such-file`)), 66, /no-such-file/)
    // …and a restore of it creates nothing.
    const target = join(env.s.dir, 'never-created')
    expectOneLineError(await env.plakar.run(env.at('restore', '--to', target, `${id}:no-such-file`)), 66, /no-such-file/)
    expect(existsSync(target)).toBe(false)
  })

  it('ambiguous id prefix → 2', async () => {
    // Make snapshots until two share their first hex digit (at most 17 by pigeonhole).
    const seen = new Map<string, string>([[id[0], id]])
    let prefix: string | undefined
    while (!prefix) {
      const next = (await backup(env, [src])).id
      if (seen.has(next[0])) prefix = next[0]
      else seen.set(next[0], next)
    }
    expectOneLineError(await env.plakar.run(env.at('ls', prefix)), 2, /ambiguous/)
    expectOneLineError(await env.plakar.run(env.at('restore', '--to', join(env.s.dir, 'y'), prefix)), 2, /ambiguous/)
  })

  it('missing repository → 66', async () => {
    expectOneLineError(await env.plakar.run(['at', join(env.s.dir, 'no-repo-here'), 'ls']), 66, /no repository/)
    // Also when the default repository (~/.plakar) does not exist.
    expectOneLineError(await env.plakar.run(['ls']), 66, /no repository/)
  })

  it('store add refuses (2) a location that every later use would refuse, for every connector that can tell', async () => {
    for (const location of ['s3://key:hunter9@127.0.0.1/bucket', 's3://127.0.0.1', 'glacier://127.0.0.1', 'sqlite:', 'sqlite://host/file.db']) {
      const r = await env.plakar.run(['store', 'add', 'bad', location])
      expectOneLineError(r, 2, /./)
      expect(`${r.stdout}${r.stderr}`).not.toContain('hunter9')
    }
    expect((await env.plakar.run(['store', 'ls'])).stdout).not.toContain('bad')
    await env.plakar.ok(['source', 'add', 'good', 's3://127.0.0.1/bucket/prefix'])
    expectOneLineError(await env.plakar.run(['source', 'add', 'bad', 's3://127.0.0.1']), 2, /bucket/)
    expectOneLineError(await env.plakar.run(['destination', 'add', 'bad', 's3://a:b@127.0.0.1/bucket']), 2, /credentials/)
  })

  it('global flags are accepted between "at LOCATION" and the command', async () => {
    const r = await env.plakar.ok(['at', env.repo, '--json', '-q', 'ls'])
    expect(String(r.stdout)).toContain(id)
    expect(() => JSON.parse(String(r.stdout).trim().split('\n')[0])).not.toThrow()
  })

  it('unknown flag → 2', async () => {
    expectOneLineError(await env.plakar.run(env.at('ls', '--no-such-flag')), 2, /no-such-flag/)
    expectOneLineError(await env.plakar.run(env.at('backup', '--tagg', 'x', src)), 2, /tagg/)
  })

  it('a source path that does not exist → 1, and nothing is stored', async () => {
    const before = (await env.plakar.jsonLines(env.at('ls'))).length
    expectOneLineError(await env.plakar.run(env.at('backup', join(env.s.dir, 'does-not-exist'))), 1, /does-not-exist/)
    expect((await env.plakar.jsonLines(env.at('ls'))).length).toBe(before)
  })

  it('a repository config with a newer format version → 78', async () => {
    const copy = join(env.s.dir, 'repo-newer-config')
    await cp(env.repo, copy, {recursive: true})
    const config = await readFile(join(copy, 'CONFIG'))
    expect(config.subarray(0, 4).toString()).toBe('PLKR')
    config[VERSION_BYTE]++
    await writeFile(join(copy, 'CONFIG'), config)
    expectOneLineError(await env.plakar.run(['at', copy, 'ls']), 78, /version/)
    expectOneLineError(await env.plakar.run(['at', copy, 'backup', src]), 78, /version/)
  })

  it('a state with a newer format version → 78, for a client that has not seen it yet', async () => {
    const copy = join(env.s.dir, 'repo-newer-state')
    await cp(env.repo, copy, {recursive: true})
    const [state] = await stateFiles(copy)
    const bytes = await readFile(state.path)
    expect(bytes.subarray(0, 4).toString()).toBe('PLKR')
    bytes[VERSION_BYTE]++
    await writeFile(state.path, bytes)
    // The copy has the same repository id: a fresh cache directory is a client that never saw it.
    const fresh = {PLAKAR_CACHE_DIR: join(env.s.dir, 'fresh-cache')}
    expectOneLineError(await env.plakar.run(['at', copy, 'ls'], {env: fresh}), 78, /version/)
    await rm(fresh.PLAKAR_CACHE_DIR, {recursive: true, force: true})
    expectOneLineError(await env.plakar.run(['at', copy, 'backup', src], {env: fresh}), 78, /version/)
  })
})
