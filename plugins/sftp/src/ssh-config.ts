/**
 * What `~/.ssh/config` says about a host, so that `sftp://nas/…` means what `ssh nas` means:
 * HostName, User, Port, IdentityFile, IdentitiesOnly, UserKnownHostsFile and ProxyJump. Parsed
 * by `ssh-config` (a maintained parser that applies OpenSSH's rule: for each keyword, the first
 * value from a matching Host block wins, `Host *` defaults included). The system-wide
 * /etc/ssh/ssh_config is not read.
 */
import {readFileSync} from 'node:fs'
import {homedir, userInfo} from 'node:os'
import {join} from 'node:path'
import {PlakarError} from '@plakar/sdk'
import SSHConfig from 'ssh-config'

export interface SshHost {
  /** The name written in the location (or in ProxyJump): the alias. */
  alias: string
  /** The host to connect to (HostName, else the alias). */
  hostname: string
  port?: number
  user?: string
  /** IdentityFile, `~` and `%d`/`%u`/`%h`/`%r` expanded; files that do not exist are skipped later. */
  identityFiles: string[]
  identitiesOnly: boolean
  knownHostsFiles: string[]
  /** ProxyJump hops, in order ("none" is no hop). */
  jumps: Jump[]
}

/** One ProxyJump hop: `[user@]host[:port]`, where host may be an alias of its own. */
export interface Jump {
  host: string
  user?: string
  port?: number
}

let cached: {file: string; config: ReturnType<typeof SSHConfig.parse> | undefined} | undefined

/** The parsed ~/.ssh/config, or undefined when there is none. */
function load(): ReturnType<typeof SSHConfig.parse> | undefined {
  const file = join(homedir(), '.ssh', 'config')
  if (cached?.file === file) return cached.config
  let text: string | undefined
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new PlakarError(`sftp: cannot read ${file}: ${(error as Error).message}`)
    }
  }
  let config: ReturnType<typeof SSHConfig.parse> | undefined
  try {
    config = text === undefined ? undefined : SSHConfig.parse(text)
  } catch (error) {
    throw new PlakarError(`sftp: ${file} is not a valid ssh configuration: ${(error as Error).message}`)
  }
  cached = {file, config}
  return config
}

const first = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value)
const list = (value: string | string[] | undefined): string[] => (value === undefined ? [] : Array.isArray(value) ? value : [value])

/** What ~/.ssh/config says for `alias`; an alias it does not mention is itself, with nothing set. */
export function sshHost(alias: string): SshHost {
  const computed = (load()?.compute(alias) ?? {}) as Record<string, string | string[] | undefined>
  const hostname = (first(computed.HostName) ?? alias).replace(/%h/g, alias)
  const user = first(computed.User)
  const port = first(computed.Port)
  const expand = (path: string) =>
    path
      .replace(/^~(?=\/|$)/, homedir())
      .replace(/%d/g, homedir())
      .replace(/%u/g, userInfo().username)
      .replace(/%h/g, hostname)
      .replace(/%r/g, user ?? userInfo().username)
  const jump = first(computed.ProxyJump)
  return {
    alias,
    hostname,
    port: port === undefined ? undefined : Number(port),
    user,
    identityFiles: list(computed.IdentityFile).map(expand),
    identitiesOnly: /^yes$/i.test(first(computed.IdentitiesOnly) ?? ''),
    knownHostsFiles: list(computed.UserKnownHostsFile).flatMap((v) => v.split(/\s+/)).filter(Boolean).map(expand),
    jumps: !jump || /^none$/i.test(jump) ? [] : jump.split(',').map(parseJump),
  }
}

/** `[user@]host[:port]`, or `ssh://[user@]host[:port]`, as ProxyJump writes a hop. */
export function parseJump(spec: string): Jump {
  const text = spec.trim().replace(/^ssh:\/\//, '')
  const at = text.lastIndexOf('@')
  const user = at >= 0 ? text.slice(0, at) : undefined
  const rest = at >= 0 ? text.slice(at + 1) : text
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest) ?? /^([^:]+)(?::(\d+))?$/.exec(rest)
  if (!m) throw new PlakarError(`sftp: ProxyJump "${spec}" in ~/.ssh/config is not [user@]host[:port]`)
  return {host: m[1], port: m[2] ? Number(m[2]) : undefined, user: user || undefined}
}
