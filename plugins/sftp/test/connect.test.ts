import {execFileSync} from 'node:child_process'
import {copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import type {Logger} from '@plakar/sdk'
import {fingerprint, parseKnownHosts, patternsMatch, verifyHostKey} from '../src/known-hosts.js'
import {parseSftpLocation} from '../src/location.js'
import {connector, sshdEnv} from './env.js'

const env = sshdEnv()
const hostKey = Buffer.from(readFileSync(env.hostPub, 'utf8').split(/\s+/)[1], 'base64')
const otherKey = Buffer.from(readFileSync(`${env.wrongKey}.pub`, 'utf8').split(/\s+/)[1], 'base64')
const url = `sftp://${env.user}@127.0.0.1:${env.port}${env.root}`

let scratch: string
let home: string | undefined
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'plakar-sftp-connect-'))
  // No ~/.ssh and no agent of the real user: every test says exactly how to authenticate.
  home = process.env.HOME
  process.env.HOME = scratch
  delete process.env.SSH_AUTH_SOCK
})
afterAll(() => {
  process.env.HOME = home
  rmSync(scratch, {recursive: true, force: true})
})

function file(name: string, text: string): string {
  const path = join(scratch, name)
  writeFileSync(path, text)
  return path
}

/** Connects and lists the root; returns the error, if any. */
async function attempt(config: Record<string, unknown>, logger?: Logger): Promise<(Error & {plakarExitCode?: number}) | undefined> {
  const c = connector(url, {known_hosts: env.knownHosts, retries: 1, ...config}, logger)
  try {
    await c.run((s) => s.stat(env.root))
    return undefined
  } catch (error) {
    return error as Error & {plakarExitCode?: number}
  } finally {
    await c.close()
  }
}

function expectOneLine(error: (Error & {plakarExitCode?: number}) | undefined, code: number, pattern: RegExp): void {
  expect(error, 'the connection should fail').toBeDefined()
  expect(error!.message.split('\n')).toHaveLength(1)
  expect(error!.plakarExitCode ?? 1).toBe(code)
  expect(error!.message).toMatch(pattern)
  if (env.password) expect(error!.message).not.toContain(env.password)
}

describe('sftp locations', () => {
  it('parses user, host, port and path', () => {
    expect(parseSftpLocation('sftp://bob@nas:2222/srv/backups/')).toEqual({host: 'nas', port: 2222, portGiven: true, user: 'bob', path: '/srv/backups'})
    expect(parseSftpLocation('sftp://nas')).toEqual({host: 'nas', port: 22, portGiven: false, user: undefined, path: '/'})
    expect(parseSftpLocation('sftp://nas/~/b')).toMatchObject({path: 'b'})
    expect(parseSftpLocation('sftp://nas/~')).toMatchObject({path: '.'})
    expect(parseSftpLocation('sftp://[::1]:2200/x')).toMatchObject({host: '::1', port: 2200})
    expect(parseSftpLocation('sftp://h/a%20b')).toMatchObject({path: '/a b'})
  })
  it('refuses a password in the location without echoing it', () => {
    expect(() => parseSftpLocation('sftp://bob:hunter2@nas/x')).toThrow(/password.*option/)
    try {
      parseSftpLocation('sftp://bob:hunter2@nas/x')
    } catch (error) {
      expect((error as Error).message).not.toContain('hunter2')
      expect((error as {plakarExitCode: number}).plakarExitCode).toBe(2)
    }
  })
})

describe('known_hosts', () => {
  const line = (patterns: string, key = hostKey) => `${patterns} ssh-ed25519 ${key.toString('base64')}`
  it('matches names, [host]:port, wildcards and negations', () => {
    expect(patternsMatch('nas,nas.example', 'nas')).toBe(true)
    expect(patternsMatch('[nas]:2222', '[nas]:2222')).toBe(true)
    expect(patternsMatch('nas', '[nas]:2222')).toBe(false)
    expect(patternsMatch('*.example,!bad.example', 'good.example')).toBe(true)
    expect(patternsMatch('*.example,!bad.example', 'bad.example')).toBe(false)
    expect(patternsMatch('10.0.0.?', '10.0.0.7')).toBe(true)
  })
  it('tells known, unknown, mismatch and revoked keys apart', () => {
    const entries = parseKnownHosts([line('a'), line('b', otherKey), `@revoked * ssh-ed25519 ${otherKey.toString('base64')}`, '# comment', ''].join('\n'))
    expect(verifyHostKey(entries, ['a'], hostKey).status).toBe('known')
    expect(verifyHostKey(entries, ['c'], hostKey).status).toBe('unknown')
    expect(verifyHostKey(entries, ['b'], hostKey).status).toBe('mismatch')
    expect(verifyHostKey(entries, ['b'], otherKey).status).toBe('revoked')
  })
  it('computes OpenSSH fingerprints', () => {
    const expected = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', env.hostPub], {encoding: 'utf8'}).split(' ')[1]
    expect(fingerprint(hostKey)).toBe(expected)
  })
})

describe('sftp connections to a real sshd', () => {
  it('authenticates with a key, checking the host key', async () => {
    expect(await attempt({identity: env.key})).toBeUndefined()
  })

  it('authenticates with a password', async () => {
    expect(env.password, 'the sshd service runs with a password').toBeTruthy()
    expect(await attempt({password: env.password})).toBeUndefined()
  })

  it('accepts a hashed known_hosts entry (HashKnownHosts)', async () => {
    const hashed = join(scratch, 'hashed_known_hosts')
    copyFileSync(env.knownHosts, hashed)
    execFileSync('ssh-keygen', ['-H', '-f', hashed], {stdio: 'ignore'})
    expect(readFileSync(hashed, 'utf8')).toMatch(/^\|1\|/)
    expect(await attempt({identity: env.key, known_hosts: hashed})).toBeUndefined()
  })

  it('a wrong password: exit 77, one line, the password never shown', async () => {
    const error = await attempt({password: 'definitely-wrong-password'})
    expectOneLine(error, 77, /authentication refused \(tried password\)/)
    expect(error!.message).not.toContain('definitely-wrong-password')
  })

  it('a key the server does not accept: exit 77', async () => {
    expectOneLine(await attempt({identity: env.wrongKey}), 77, /authentication refused \(tried publickey .*wrong_key\)/)
  })

  it('an unknown host: exit 77 with the fingerprint and what to do', async () => {
    const error = await attempt({identity: env.key, known_hosts: file('empty_known_hosts', '')})
    expectOneLine(error, 77, /host key of \[127\.0\.0\.1\]:\d+ is not known/)
    expect(error!.message).toContain(fingerprint(hostKey))
    expect(error!.message).toContain(`ssh-keyscan -p ${env.port} 127.0.0.1`)
    expect(error!.message).toContain('insecure_ignore_host_key=true')
  })

  it('a host key mismatch: exit 77, names the line and how to fix it', async () => {
    const known = file('wrong_known_hosts', `# first line\n[127.0.0.1]:${env.port} ssh-ed25519 ${otherKey.toString('base64')}\n`)
    const error = await attempt({identity: env.key, known_hosts: known})
    expectOneLine(error, 77, /HOST KEY MISMATCH for \[127\.0\.0\.1\]:\d+/)
    expect(error!.message).toContain('line 2')
    expect(error!.message).toContain(`ssh-keygen -R "[127.0.0.1]:${env.port}"`)
  })

  it('an entry for port 22 does not vouch for another port', async () => {
    const known = file('port22_known_hosts', `127.0.0.1 ssh-ed25519 ${hostKey.toString('base64')}\n`)
    expectOneLine(await attempt({identity: env.key, known_hosts: known}), 77, /is not known/)
  })

  it('the default known_hosts is ~/.ssh/known_hosts', async () => {
    execFileSync('mkdir', ['-p', join(scratch, '.ssh')])
    copyFileSync(env.knownHosts, join(scratch, '.ssh', 'known_hosts'))
    try {
      expect(await attempt({identity: env.key, known_hosts: undefined})).toBeUndefined()
    } finally {
      rmSync(join(scratch, '.ssh'), {recursive: true})
    }
  })

  it('insecure_ignore_host_key=true connects and warns with the fingerprint', async () => {
    const warnings: string[] = []
    const logger: Logger = {debug() {}, info() {}, warn: (m) => warnings.push(m)}
    const error = await attempt({identity: env.key, known_hosts: file('none', ''), insecure_ignore_host_key: true}, logger)
    expect(error).toBeUndefined()
    expect(warnings.join('\n')).toContain(fingerprint(hostKey))
  })

  it('default identities: ~/.ssh/id_ed25519 is used when no identity is given', async () => {
    execFileSync('mkdir', ['-p', join(scratch, '.ssh')])
    copyFileSync(env.key, join(scratch, '.ssh', 'id_ed25519'))
    try {
      expect(await attempt({})).toBeUndefined()
    } finally {
      rmSync(join(scratch, '.ssh'), {recursive: true})
    }
  })

  it('no way to authenticate: exit 77 saying what to give', async () => {
    expectOneLine(await attempt({}), 77, /no way to authenticate: give identity=FILE or password/)
  })

  it('a passphrase-protected identity: points to ssh-agent', async () => {
    const key = join(scratch, 'locked_key')
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'a passphrase', '-f', key])
    expectOneLine(await attempt({identity: key}), 77, /protected by a passphrase: load it into ssh-agent/)
  })

  it('a missing identity file: one line naming it', async () => {
    expectOneLine(await attempt({identity: join(scratch, 'nope')}), 1, /cannot read the identity file .*nope: no such file/)
  })

  it('an unreachable server: one line after the retries', async () => {
    const closed = (await import('node:net')).createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as {port: number}).port
    await new Promise<void>((resolve) => closed.close(() => resolve()))
    const c = connector(`sftp://root@127.0.0.1:${port}/x`, {identity: env.key, known_hosts: env.knownHosts, retries: 2})
    const t0 = Date.now()
    const error = (await c.run((s) => s.stat('/')).catch((e) => e)) as Error & {plakarExitCode?: number}
    await c.close()
    expectOneLine(error, 1, new RegExp(`cannot connect to 127\\.0\\.0\\.1:${port}: connection refused; gave up after 3 attempts`))
    expect(Date.now() - t0).toBeLessThan(10_000)
  })

  it('the username option and the location agree, or it is a usage error', () => {
    expect(() => connector(`sftp://alice@127.0.0.1:${env.port}/x`, {username: 'bob'})).toThrow(/names user "alice" but the username option says "bob"/)
  })
})
