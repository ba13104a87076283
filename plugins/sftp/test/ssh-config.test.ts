/**
 * `sftp://NAME/…` means what `ssh NAME` means (issue 12): ~/.ssh/config's Host aliases with
 * HostName, Port, User, IdentityFile, UserKnownHostsFile and ProxyJump, through the real CLI
 * against the test sshd. ProxyJump goes through the same sshd (a direct-tcpip channel to
 * itself); that the jump is really taken shows when the jump host is unreachable or refuses
 * the key: the server itself is then never reached.
 */
import {execFile} from 'node:child_process'
import {mkdirSync, writeFileSync} from 'node:fs'
import {promisify} from 'node:util'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {Plakar, scratch} from '../../../test/support/cli.js'
import {compareTrees, TreeBuilder} from '../../../test/support/tree.js'
import {sshdEnv} from './env.js'

const env = sshdEnv()
const s = scratch('plakar-ssh-config-')
const plakar = new Plakar(s.dir, {NODE_ENV: undefined as unknown as string, SSH_AUTH_SOCK: undefined as unknown as string})
const remote = (alias: string, name: string) => `sftp://${alias}${env.root}/ssh-config-${name}-${process.pid}`

function host(alias: string, settings: Record<string, string | number>): string {
  return [`Host ${alias}`, ...Object.entries(settings).map(([k, v]) => `  ${k} ${v}`), ''].join('\n')
}

const server = {HostName: '127.0.0.1', Port: env.port, User: env.user, IdentityFile: env.key, UserKnownHostsFile: env.knownHosts}

beforeAll(async () => {
  mkdirSync(join(s.dir, '.ssh'), {recursive: true})
  writeFileSync(
    join(s.dir, '.ssh', 'config'),
    [
      host('nas', server),
      host('via-jump', {...server, ProxyJump: 'jumpbox'}),
      host('jumpbox', server),
      host('agent-only', {HostName: '127.0.0.1', Port: env.port, User: env.user, UserKnownHostsFile: env.knownHosts}),
      host('via-dead-jump', {...server, ProxyJump: `${env.user}@deadjump:1`}),
      host('deadjump', server),
      host('via-refusing-jump', {...server, ProxyJump: 'stranger-jump'}),
      host('stranger-jump', {...server, IdentityFile: env.wrongKey, IdentitiesOnly: 'yes'}),
      // Defaults come after the specific blocks, as in any ssh config.
      host('*', {ServerAliveInterval: 30}),
    ].join('\n'),
  )
  const tree = new TreeBuilder(join(s.dir, 'src'))
  for (let i = 0; i < 20; i++) await tree.file(`notes/n${i}.txt`, `note ${i}\n`.repeat(100))
})
afterAll(() => s.cleanup())

describe('~/.ssh/config', () => {
  it('a Host alias gives the host name, port, user, identity file and known_hosts file', async () => {
    const repo = remote('nas', 'alias')
    await plakar.ok(['at', repo, 'create'])
    const {id} = JSON.parse(String((await plakar.ok(['at', repo, 'backup', '--json', join(s.dir, 'src')])).stdout)) as {id: string}
    await plakar.ok(['at', repo, 'restore', '--to', join(s.dir, 'restored'), id])
    await compareTrees(join(s.dir, 'src'), join(s.dir, 'restored'))
  })

  it('the port written in the location wins over the alias\'s Port', async () => {
    const r = await plakar.run(['at', `sftp://nas:1${env.root}/x`, 'ls'])
    expect(r.exitCode).not.toBe(0)
    expect(String(r.stderr)).toMatch(/127\.0\.0\.1:1: connection refused|cannot connect/)
  })

  it('ProxyJump: the repository is reached through the jump host', async () => {
    const repo = remote('via-jump', 'jump')
    await plakar.ok(['at', repo, 'create'])
    await plakar.ok(['at', repo, 'backup', '-q', join(s.dir, 'src')])
    const listed = await plakar.jsonLines(['at', repo, 'ls'])
    expect(listed).toHaveLength(1)
    await plakar.ok(['at', repo, 'check', '-q'])
  })

  it('ProxyJump to an unreachable jump host fails in one line naming it, though the server is up', async () => {
    const r = await plakar.run(['at', remote('via-dead-jump', 'dead'), 'ls'])
    expect(r.exitCode, String(r.stderr)).toBe(1)
    const lines = String(r.stderr).trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^plakar: sftp .*: cannot connect to the jump host deadjump \(.*@\[127\.0\.0\.1\]:1\): .*ECONNREFUSED/)
  })

  it('a jump host that refuses the key: exit 77, naming the jump host', async () => {
    const r = await plakar.run(['at', remote('via-refusing-jump', 'refused'), 'ls'])
    expect(r.exitCode, String(r.stderr)).toBe(77)
    expect(String(r.stderr).trim()).toMatch(/^plakar: sftp .*the jump host stranger-jump .* refused authentication \(tried publickey .*wrong_key\)$/)
  })

  it('ssh-agent: a host with no IdentityFile authenticates with the agent\'s key', async () => {
    const run = promisify(execFile)
    // A real agent; `-s` returns once its socket is ready and prints its pid.
    const sock = join(s.dir, 'agent.sock')
    const {stdout} = await run('ssh-agent', ['-s', '-a', sock])
    const pid = Number(/SSH_AGENT_PID=(\d+)/.exec(stdout)![1])
    try {
      await run('ssh-add', [env.key], {env: {...process.env, SSH_AUTH_SOCK: sock}})
      const repo = remote('agent-only', 'agent')
      // Without the agent there is no key at all (no ~/.ssh/id_*): the agent is what works.
      const without = await plakar.run(['at', repo, 'create'])
      expect(without.exitCode, String(without.stderr)).toBe(77)
      await plakar.ok(['at', repo, 'create'], {env: {SSH_AUTH_SOCK: sock}})
      await plakar.ok(['at', repo, 'backup', '-q', join(s.dir, 'src')], {env: {SSH_AUTH_SOCK: sock}})
    } finally {
      process.kill(pid)
    }
  })
})
