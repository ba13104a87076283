/**
 * End to end with the real CLI (bin/run.js, built) against the test sshd: repositories on
 * sftp://, backups from and restores to sftp://, named stores with password authentication,
 * one-line errors with their exit codes, and faults injected between plakar and sshd.
 */
import {randomBytes} from 'node:crypto'
import {cpSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:net'
import {join} from 'node:path'
import type {Result} from 'execa'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'
import {Plakar, scratch} from '../../../test/support/cli.js'
import {FaultProxy} from '../../../test/support/fault-proxy.js'
import {compareTrees, TreeBuilder} from '../../../test/support/tree.js'
import {sshdEnv} from './env.js'

const MiB = 1024 * 1024
const env = sshdEnv()
const s = scratch('plakar-e2e-sftp-')
// vitest sets NODE_ENV=test, which makes oclif print development warnings: run as a user would.
const plakar = new Plakar(s.dir, {NODE_ENV: undefined as unknown as string, SSH_AUTH_SOCK: undefined as unknown as string})
const KEY = ['-o', `identity=${env.key}`, '-o', `known_hosts=${env.knownHosts}`]
const remote = (name: string, port = env.port) => `sftp://${env.user}@127.0.0.1:${port}${env.root}/e2e-${name}-${randomBytes(4).toString('hex')}`
/** Every output of every command of this file: the password must never be in any of it. */
const outputs: string[] = []
let source: string

async function run(args: string[], options: {env?: Record<string, string>} = {}): Promise<Result> {
  const r = await plakar.run(args, options)
  outputs.push(String(r.stdout), String(r.stderr))
  return r
}

async function ok(args: string[]): Promise<Result> {
  const r = await run(args)
  if (r.exitCode !== 0) throw new Error(`plakar ${args.join(' ')} exited ${r.exitCode}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`)
  return r
}

function expectOneLine(r: Result, code: number, pattern: RegExp): void {
  const lines = String(r.stderr).trim().split('\n')
  expect(r.exitCode, String(r.stderr)).toBe(code)
  expect(lines, 'one line on stderr').toHaveLength(1)
  expect(lines[0]).toMatch(pattern)
  expect(String(r.stderr)).not.toMatch(/\n\s+at /) // no stack trace
}

async function backupJson(at: string[], src: string, extra: string[] = []): Promise<{id: string; addedBytes: number; files: number; errors: number}> {
  return JSON.parse(String((await ok([...at, 'backup', '--json', ...extra, src])).stdout))
}

beforeAll(async () => {
  const tree = new TreeBuilder(join(s.dir, 'source'))
  await tree.dir('docs', {mode: 0o750, mtime: 1_600_000_000.5})
  for (let i = 0; i < 120; i++) await tree.file(`docs/d${i % 6}/note-${i}.txt`, `note ${i}\n`.repeat(i * 13), {mode: 0o640, mtime: 1_600_000_000 + i})
  await tree.randomFile('media/large.bin', 24 * MiB, {mtime: 1_650_000_000.25})
  await tree.randomFile('media/medium.bin', 3 * MiB + 17)
  await tree.file('empty', '')
  await tree.file('odd names/ünï cödé & spaces.txt', 'odd\n')
  await tree.symlink('link-to-notes', 'docs/d1')
  await tree.symlink('dangling', '/nonexistent/target')
  await tree.hardlink('media/large-again.bin', 'media/large.bin')
  await tree.dir('empty-dir', {mode: 0o700})
  source = await tree.finish()
}, 120_000)
afterAll(() => s.cleanup())

describe('a repository on sftp://, through the CLI', () => {
  const repo = remote('repo')
  const at = ['at', repo, ...KEY]
  let first: string

  it('create, backup, restore bit-exact, check', async () => {
    await ok([...at, 'create'])
    const b = await backupJson(at, source)
    first = b.id
    expect(b.errors).toBe(0)
    const out = join(s.dir, 'restored-from-sftp')
    await ok([...at, 'restore', '--to', out, first])
    expect(await compareTrees(source, out)).toEqual([])
    await ok([...at, 'check', first])
  })

  it('a second backup of unchanged data uploads almost nothing', async () => {
    const b = await backupJson(at, source)
    expect(b.id).not.toBe(first)
    expect(b.addedBytes, 'bytes added by the second backup').toBeLessThan(256 * 1024)
  })

  it('restores into an sftp:// target, with modes and mtimes (to the second)', async () => {
    const target = remote('restore-target')
    await ok([...at, 'restore', '--to', target, ...KEY, first])
    const local = target.slice(target.indexOf(env.root))
    // SFTP v3 carries times to the second; symlink times are set with lsetstat@openssh.com and
    // hard links made with hardlink@openssh.com.
    expect(await compareTrees(source, local, {mtimeToleranceNs: 1_000_000_000n})).toEqual([])
  })

  it('backs up an sftp:// source and restores it bit-exact', async () => {
    const copy = remote('source-copy')
    const local = copy.slice(copy.indexOf(env.root))
    cpSync(source, local, {recursive: true, verbatimSymlinks: true, preserveTimestamps: true})
    const b = await backupJson(at, copy, KEY)
    expect(b.errors).toBe(0)
    const out = join(s.dir, 'restored-sftp-source')
    await ok([...at, 'restore', '--to', out, b.id])
    // Content, types, modes, symlink targets; SFTP v3 carries mtimes to the second and no
    // link counts, so hard links come back as copies.
    const diffs = await compareTrees(local, out, {mtimeToleranceNs: 1_000_000_000n})
    expect(diffs.filter((d) => !/hard-link group/.test(d))).toEqual([])
    const again = await backupJson(at, copy, KEY)
    expect(again.addedBytes).toBeLessThan(256 * 1024)
  })
})

describe('named sftp stores and authentication errors, through the CLI', () => {
  const knownHosts = env.knownHosts
  const password = env.password!

  it('a store with password authentication works and never shows the password', async () => {
    expect(password).toBeTruthy()
    await ok(['store', 'add', 'pw', remote('pw'), `password=${password}`, `known_hosts=${knownHosts}`])
    const shown = await ok(['store', 'show', 'pw'])
    expect(String(shown.stdout)).not.toContain(password)
    await ok(['at', '@pw', 'create'])
    await ok(['at', '@pw', 'backup', join(source, 'docs')])
    await ok(['at', '@pw', 'ls'])
    await ok(['at', '@pw', 'check'])
  })

  it('a wrong password: exit 77, one line', async () => {
    await ok(['store', 'add', 'badpw', remote('badpw'), 'password=not-the-password-42', `known_hosts=${knownHosts}`])
    const r = await run(['at', '@badpw', 'ls'])
    expectOneLine(r, 77, /authentication refused \(tried password\)/)
    expect(String(r.stderr) + String(r.stdout)).not.toContain('not-the-password-42')
  })

  it('a wrong key: exit 77, one line', async () => {
    expectOneLine(await run(['at', remote('x'), '-o', `identity=${env.wrongKey}`, '-o', `known_hosts=${knownHosts}`, 'ls']), 77, /authentication refused/)
  })

  it('an unknown host: exit 77, one line with the fingerprint and what to do', async () => {
    const empty = join(s.dir, 'empty_known_hosts')
    writeFileSync(empty, '')
    expectOneLine(await run(['at', remote('x'), '-o', `identity=${env.key}`, '-o', `known_hosts=${empty}`, 'ls']), 77, /host key .* is not known \(ssh-ed25519 SHA256:.*ssh-keyscan/)
  })

  it('the default known_hosts (~/.ssh/known_hosts) is used, and a changed host key is refused', async () => {
    mkdirSync(join(s.dir, '.ssh'), {recursive: true})
    const key = readFileSync(`${env.wrongKey}.pub`, 'utf8').split(/\s+/).slice(0, 2).join(' ')
    writeFileSync(join(s.dir, '.ssh', 'known_hosts'), `[127.0.0.1]:${env.port} ${key}\n`)
    expectOneLine(await run(['at', remote('x'), '-o', `identity=${env.key}`, 'ls']), 77, /HOST KEY MISMATCH .*ssh-keygen -R/)
    cpSync(knownHosts, join(s.dir, '.ssh', 'known_hosts'))
    // Right key: the repository is simply not there.
    expectOneLine(await run(['at', remote('x'), '-o', `identity=${env.key}`, 'ls']), 66, /no repository at sftp:/)
  })

  it('an unreachable server: exit 1, one line, after the retries', async () => {
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as {port: number}).port
    await new Promise<void>((resolve) => server.close(() => resolve()))
    expectOneLine(await run(['at', remote('x', port), ...KEY, '-o', 'retries=2', 'ls']), 1, /cannot connect to 127\.0\.0\.1:\d+: connection refused; gave up after 3 attempts/)
  })

  it('invalid options are usage errors naming every problem', async () => {
    const r = await run(['at', remote('x'), '-o', 'bogus=1', '-o', 'timeout=never', 'ls'])
    expect(r.exitCode).toBe(2)
    expect(String(r.stderr)).toMatch(/unknown option "bogus"/)
    expect(String(r.stderr)).toMatch(/timeout/)
  })
})

describe('backups to sftp:// through a faulty network, through the CLI', () => {
  let proxy: FaultProxy
  let proxyKnownHosts: string
  beforeAll(async () => {
    proxy = await FaultProxy.start({host: '127.0.0.1', port: env.port})
    proxyKnownHosts = join(s.dir, 'proxy_known_hosts')
    const key = readFileSync(env.hostPub, 'utf8').split(/\s+/).slice(0, 2).join(' ')
    writeFileSync(proxyKnownHosts, `[127.0.0.1]:${proxy.port} ${key}\n`)
  })
  afterAll(() => proxy.close())
  afterEach(() => proxy.clear())

  const through = (name: string, extra: string[] = []) => {
    const location = remote(name, proxy.port)
    return ['at', location, '-o', `identity=${env.key}`, '-o', `known_hosts=${proxyKnownHosts}`, '-o', 'timeout=3', ...extra]
  }

  it('connections cut every few MiB: the backup finishes after retries, restores bit-exact, check passes', async () => {
    const at = through('cuts')
    await ok([...at, 'create'])
    proxy.set({cutAfterBytes: 6 * MiB, direction: 'up'})
    const b = await backupJson(at, source)
    expect(proxy.stats.cuts).toBeGreaterThanOrEqual(2)
    proxy.set({cutAfterBytes: 9 * MiB, direction: 'down'})
    const out = join(s.dir, 'restored-through-cuts')
    await ok([...at, 'restore', '--to', out, b.id])
    proxy.clear()
    expect(await compareTrees(source, out)).toEqual([])
    await ok([...at, 'check'])
  })

  it('latency and a stalled connection: the backup finishes, check passes', async () => {
    const at = through('slow')
    await ok([...at, 'create'])
    proxy.set({latencyMs: 15})
    await backupJson(at, join(source, 'docs'))
    // The next connection stalls after 1 MiB: keepalives notice it (timeout=3), plakar reconnects.
    proxy.set({stallAfterBytes: 1 * MiB, direction: 'up', connections: 1})
    await backupJson(at, source)
    proxy.clear()
    await ok([...at, 'check'])
  })

  it('a network that fails for good: the backup fails with one line, check passes, the next backup is whole', async () => {
    const at = through('broken', ['-o', 'retries=2', '-o', 'connections=1'])
    await ok([...at, 'create'])
    // The connection dies after 20 MiB sent, and from then on the server is unreachable.
    proxy.set({cutAfterBytes: 20 * MiB, direction: 'up'})
    proxy.once('cut', () => proxy.set({refuse: true}))
    const r = await run([...at, 'backup', '--json', source])
    proxy.clear()
    expect(r.exitCode, String(r.stderr)).not.toBe(0)
    const lines = String(r.stderr).trim().split('\n')
    expect(lines, String(r.stderr)).toHaveLength(1)
    expect(lines[0]).toMatch(/gave up after 3 attempts/)
    await ok([...at, 'check'])
    // The link is back: the next backup completes and is sound.
    const b = await backupJson(at, source)
    expect(b.errors).toBe(0)
    await ok([...at, 'check', b.id])
    const out = join(s.dir, 'restored-after-failure')
    await ok([...at, 'restore', '--to', out, b.id])
    expect(await compareTrees(source, out)).toEqual([])
  })
})

describe('secrets', () => {
  it('the password never appeared in any output of any command', () => {
    expect(outputs.length).toBeGreaterThan(0)
    for (const out of outputs) expect(out).not.toContain(env.password!)
  })
})
