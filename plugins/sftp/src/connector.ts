import {existsSync, readFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {homedir, userInfo} from 'node:os'
import {join, resolve} from 'node:path'
import type {AnyAuthMethod, AuthenticationType, ConnectConfig, ParsedKey} from 'ssh2'
import {abortable, AuthError, PlakarError, UsageError, withRetry, type ConnectorContext, type Logger} from '@plakar/sdk'
import {finalError, isConnectionLost, normalize, oneLine, SftpOpError} from './errors.js'
import {algorithmsFor, fingerprint, keyTypeOf, parseKnownHosts, patternsMatch, verifyHostKey, type HostKeyVerdict, type KnownHostEntry} from './known-hosts.js'
import {hostKeyName, parseSftpLocation, type SftpLocation} from './location.js'
import {SftpSession} from './session.js'
import {sshHost, type Jump, type SshHost} from './ssh-config.js'

/** The connector options (schema/*.json), after ajv validation and coercion. */
export interface SftpConfig {
  username?: string
  identity?: string
  password?: string
  known_hosts?: string
  insecure_ignore_host_key?: boolean
  /** Seconds: connection set-up, and how long a silent server is tolerated (keepalives). */
  timeout?: number
  /** New attempts after a lost connection or a timeout (the first attempt not counted). */
  retries?: number
  /** SSH connections used in parallel. */
  connections?: number
}

/** SFTP operations (not counting the READ/WRITE requests of one transfer) in flight at once. */
const MAX_OPERATIONS = 32

const DEFAULT_IDENTITIES = ['id_ed25519', 'id_ecdsa', 'id_rsa']
/** ssh2's host key algorithms, in its default order of preference. */
const HOST_KEY_ALGORITHMS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
]

type Auth = AnyAuthMethod & {describe: string}

/**
 * Everything needed to reach one SFTP server, and the live connections to it. Operations run
 * through {@link run}: it bounds how many are in flight, connects on demand, and retries with
 * exponential backoff on a new connection when the old one is lost (reset, timeout, cut). Errors
 * that another attempt cannot cure — authentication, host key, permission, no such file — are
 * never retried.
 */
export class SftpConnector {
  /** The location with ~/.ssh/config applied: `host` is the HostName to connect to. */
  readonly location: SftpLocation
  /** What ~/.ssh/config says about the host the location names. */
  readonly #ssh: SshHost
  readonly username: string
  /** "user@host:port", for messages. */
  readonly server: string
  readonly #config: SftpConfig
  readonly #logger: Logger
  readonly #attempts: number
  readonly #timeoutMs: number
  readonly #sessions: (SftpSession | undefined)[]
  readonly #connecting: (Promise<SftpSession> | undefined)[]
  #next = 0
  #counter = 0
  #closed = false
  /** Operations waiting for a slot, and how many slots are free. */
  #free: number
  readonly #waiting: (() => void)[] = []
  /** A permanent connection failure (auth, host key): every later call fails the same way. */
  #fatal: unknown
  #warnedInsecure = false

  constructor(location: SftpLocation, config: SftpConfig, logger: Logger) {
    this.#config = config
    this.#logger = logger
    if (config.username && location.user && config.username !== location.user) {
      throw new UsageError(`the sftp location names user "${location.user}" but the username option says "${config.username}": give one`)
    }
    // As for `ssh NAME`: what the location and the options say first, then ~/.ssh/config.
    this.#ssh = sshHost(location.host)
    this.location = {...location, host: this.#ssh.hostname, port: location.portGiven ? location.port : (this.#ssh.port ?? location.port)}
    this.username = location.user ?? config.username ?? this.#ssh.user ?? userInfo().username
    const port = this.location.port
    this.server = `${this.username}@${location.host}${port === 22 ? '' : `:${port}`}`
    this.#attempts = Math.max(0, config.retries ?? 5) + 1
    this.#timeoutMs = Math.max(1, config.timeout ?? 20) * 1000
    const connections = Math.max(1, Math.min(16, config.connections ?? 2))
    this.#sessions = new Array(connections).fill(undefined)
    this.#connecting = new Array(connections).fill(undefined)
    this.#free = MAX_OPERATIONS
  }

  static fromContext(context: ConnectorContext): SftpConnector {
    return new SftpConnector(parseSftpLocation(context.location), context.config as SftpConfig, context.logger)
  }

  get attempts(): number {
    return this.#attempts
  }

  /** A live session, connecting if needed; spreads callers over the connections. */
  async session(): Promise<SftpSession> {
    if (this.#closed) throw new PlakarError(`sftp ${this.server}: the connection is closed`)
    if (this.#fatal) throw this.#fatal
    const slot = this.#next++ % this.#sessions.length
    const current = this.#sessions[slot]
    if (current && !current.lost) return current
    this.#connecting[slot] ??= this.#connect()
      .then((session) => {
        this.#sessions[slot] = session
        return session
      })
      .finally(() => {
        this.#connecting[slot] = undefined
      })
    return this.#connecting[slot]
  }

  /** Drops a session that failed with a lost connection; the next call reconnects. */
  invalidate(session: SftpSession | undefined, reason?: unknown): void {
    if (!session) return
    const slot = this.#sessions.indexOf(session)
    if (slot >= 0) this.#sessions[slot] = undefined
    if (!session.lost) {
      this.#logger.debug(`sftp ${this.server}: connection ${session.number} dropped: ${reason instanceof Error ? reason.message : String(reason)}`)
    }
    session.destroy(reason instanceof Error ? reason : new Error(String(reason)))
  }

  /**
   * Runs `fn` on a live session, within the concurrency bound, retrying on a new connection
   * when the connection is lost; after the last attempt, one error naming the server. With
   * `signal`: SFTP cannot cancel one request, so an abort rejects at once with its reason and
   * the late reply is ignored; no retry starts after it.
   */
  async run<T>(fn: (session: SftpSession, attempt: number) => Promise<T>, signal?: AbortSignal): Promise<T> {
    signal?.throwIfAborted()
    await this.#acquire()
    try {
      return await this.retry(fn, signal)
    } finally {
      this.#release()
    }
  }

  /** The backoff before attempt `failures + 1` (exponential, full jitter), as in {@link run}. */
  async pause(failures: number, signal?: AbortSignal): Promise<void> {
    await abortable(new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(8000, 250 * 2 ** (failures - 1)))), signal)
  }

  /** Runs `fn` within the concurrency bound (it handles connections and retries itself). */
  async slot<T>(fn: () => Promise<T>): Promise<T> {
    await this.#acquire()
    try {
      return await fn()
    } finally {
      this.#release()
    }
  }

  /** {@link run} without taking a concurrency slot (for streams whose pace the reader sets). */
  async retry<T>(fn: (session: SftpSession, attempt: number) => Promise<T>, signal?: AbortSignal): Promise<T> {
    try {
      return await withRetry(
        async (attempt) => {
          signal?.throwIfAborted()
          const session = await abortable(this.session(), signal)
          try {
            return await abortable(fn(session, attempt), signal)
          } catch (error) {
            if (isConnectionLost(error)) this.invalidate(session, error)
            throw error
          }
        },
        {
          attempts: this.#attempts,
          baseDelayMs: 250,
          maxDelayMs: 8000,
          signal,
          retryable: (error) => !this.#closed && isConnectionLost(error),
          onRetry: (error, attempt, delay) =>
            this.#logger.debug(`sftp ${this.server}: attempt ${attempt} failed (${(error as Error).message}); retrying in ${Math.round(delay)} ms`),
        },
      )
    } catch (error) {
      if (signal?.aborted) throw signal.reason
      throw finalError(error, this.server, this.#attempts)
    }
  }

  async #acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free--
      return
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve))
  }

  #release(): void {
    const next = this.#waiting.shift()
    if (next) next()
    else this.#free++
  }

  async close(): Promise<void> {
    this.#closed = true
    const sessions = [...this.#sessions, ...(await Promise.all(this.#connecting.map((p) => p?.catch(() => undefined))))]
    this.#sessions.fill(undefined)
    await Promise.all(sessions.map((s) => s?.end()))
  }

  // ---- connecting ------------------------------------------------------------------------

  async #connect(): Promise<SftpSession> {
    const {host, port} = this.location
    const auths = this.#authMethods(this.username, this.#ssh, this.#config.identity)
    const knownHosts = this.#config.insecure_ignore_host_key ? undefined : this.#knownHosts(this.#ssh, host, port)
    const names = [hostKeyName(host, port)]
    const {sock, hops} = await this.#throughJumps()
    let verdict: HostKeyVerdict | undefined
    let presented: Buffer | undefined
    let rawError: (Error & {level?: string; code?: unknown}) | undefined
    const tried: string[] = []

    const {default: SftpClient} = await import('ssh2-sftp-client')
    // The library's global listeners print to the console; errors reach us through connect().
    const client = new SftpClient('plakar', {error() {}, end() {}, close() {}} as never)
    client.on('error', (error: Error) => {
      rawError ??= error
    })
    const config: ConnectConfig = {
      host,
      port,
      ...(sock ? {sock} : {}),
      username: this.username,
      readyTimeout: this.#timeoutMs,
      // A server that stops answering is noticed after about `timeout`.
      keepaliveInterval: Math.max(500, Math.floor(this.#timeoutMs / 4)),
      keepaliveCountMax: 3,
      hostVerifier: (key: Buffer) => {
        presented = Buffer.from(key)
        if (!knownHosts) return true
        verdict = verifyHostKey(knownHosts.entries, names, presented)
        return verdict.status === 'known'
      },
      authHandler: authHandler(auths, tried),
    }
    if (knownHosts && knownHosts.types.length > 0) {
      // Ask first for the kinds of keys known_hosts has for this host, as OpenSSH does.
      const preferred = knownHosts.types.flatMap(algorithmsFor)
      config.algorithms = {
        serverHostKey: [...new Set([...preferred, ...HOST_KEY_ALGORITHMS])].filter((a) => HOST_KEY_ALGORITHMS.includes(a)) as never,
      }
    }
    const number = ++this.#counter
    const connecting = client.connect(config)
    // ssh2 leaves Nagle's algorithm on: small SFTP requests then wait for delayed ACKs.
    ;(client as unknown as {client: {setNoDelay(on: boolean): void}}).client.setNoDelay(true)
    try {
      const sftp = await connecting
      const session = new SftpSession(client, sftp, number)
      const ssh = (client as unknown as {client: NodeJS.EventEmitter}).client
      // The jump hosts' connections carry this one: they end with it.
      ssh.on('close', () => {
        session.markLost(new Error('connection closed'))
        for (const hop of hops) hop.end()
      })
      ssh.on('end', () => session.markLost(new Error('connection ended')))
      ssh.on('error', (error: Error) => session.markLost(error))
      if (this.#config.insecure_ignore_host_key && presented && !this.#warnedInsecure) {
        this.#warnedInsecure = true
        this.#logger.warn(
          `sftp ${hostKeyName(host, port)}: host key NOT verified (insecure_ignore_host_key=true); it is ${keyTypeOf(presented)} ${fingerprint(presented)}`,
        )
      }
      this.#logger.debug(`sftp ${this.server}: connection ${number} ready`)
      return session
    } catch (error) {
      try {
        ;(client as unknown as {client: {destroy(): void}}).client.destroy()
      } catch {
        // never connected
      }
      for (const hop of hops) hop.end()
      const failure = this.#connectFailure(error, rawError, verdict, presented, tried, knownHosts?.files ?? [])
      if (!isConnectionLost(failure)) this.#fatal = failure
      throw failure
    }
  }

  /** The one-line error for a failed connection, with its exit code. */
  #connectFailure(
    error: unknown,
    raw: (Error & {level?: string; code?: unknown}) | undefined,
    verdict: HostKeyVerdict | undefined,
    presented: Buffer | undefined,
    tried: string[],
    files: string[],
  ): unknown {
    const {host, port} = this.location
    const name = hostKeyName(host, port)
    const where = files.join(', ') || '~/.ssh/known_hosts'
    if (verdict && verdict.status !== 'known' && presented) {
      const key = `${keyTypeOf(presented)} ${fingerprint(presented)}`
      const scan = `ssh-keyscan ${port === 22 ? '' : `-p ${port} `}${host}`
      if (verdict.status === 'unknown') {
        return new AuthError(
          `sftp: the host key of ${name} is not known (${key}): check this fingerprint with the server's administrator, ` +
            `then add it to ${files[0] ?? '~/.ssh/known_hosts'} (${scan} >> ${files[0] ?? '~/.ssh/known_hosts'}) or name a file with known_hosts=FILE; ` +
            `insecure_ignore_host_key=true skips the check`,
        )
      }
      if (verdict.status === 'revoked') {
        return new AuthError(`sftp: ${name} presented a REVOKED host key (${key}, line ${verdict.entry.line} of ${where}): refusing to connect`)
      }
      return new AuthError(
        `sftp: HOST KEY MISMATCH for ${name}: it presented ${key}, but ${where} (line ${verdict.entries.map((e) => e.line).join(', ')}) ` +
          `holds another key — the connection may be intercepted; if the server's key was changed on purpose, ` +
          `remove the old entry (ssh-keygen -R "${name}") and add the new one`,
      )
    }
    const source = raw ?? (error as Error & {level?: string; code?: unknown})
    const message = oneLine(source?.message ?? String(error))
    if (source?.level === 'client-authentication' || /authentication methods failed/i.test(message)) {
      const things = ['the username']
      if (tried.some((t) => t.startsWith('publickey'))) things.push('the identity file')
      if (tried.includes('ssh-agent')) things.push("the agent's keys")
      if (tried.includes('password')) things.push('the password')
      const check = things.length > 1 ? `${things.slice(0, -1).join(', ')} and ${things.at(-1)}` : things[0]
      return new AuthError(`sftp ${this.server}: authentication refused (tried ${tried.join(', ') || 'nothing'}): check ${check}`)
    }
    if (source?.level === 'client-dns' || source?.code === 'ENOTFOUND') {
      return new PlakarError(`sftp: cannot resolve host "${host}"`)
    }
    if (/no matching .*(host key|key exchange|cipher|mac)/i.test(message) || /Handshake failed/i.test(message)) {
      return new PlakarError(`sftp ${this.server}: SSH handshake failed: ${message}`)
    }
    const reason =
      source?.code === 'ECONNREFUSED'
        ? 'connection refused'
        : source?.code === 'ETIMEDOUT' || /Timed out while waiting for handshake/i.test(message)
          ? 'timed out'
          : source?.code === 'EHOSTUNREACH' || source?.code === 'ENETUNREACH'
            ? 'host unreachable'
            : message
    const failure = normalize(source ?? error, 'connect')
    if (failure.transient) return new SftpOpError(`cannot connect to ${host}:${port}: ${reason}`, failure.code, true, undefined, {cause: error})
    return new PlakarError(`sftp ${this.server}: cannot connect: ${reason}`)
  }

  /**
   * Connections to the ProxyJump hosts of ~/.ssh/config, each reached through the one before,
   * and the channel the last one opens to the SFTP server (`sock`); none without ProxyJump.
   * Each hop is authenticated and its host key checked as the server's is.
   */
  async #throughJumps(): Promise<{sock?: import('node:stream').Duplex; hops: import('ssh2').Client[]}> {
    const hops: import('ssh2').Client[] = []
    if (this.#ssh.jumps.length === 0) return {hops}
    const endpoint = (jump: Jump) => {
      const ssh = sshHost(jump.host)
      return {ssh, host: ssh.hostname, port: jump.port ?? ssh.port ?? 22, username: jump.user ?? ssh.user ?? userInfo().username}
    }
    let sock: import('node:stream').Duplex | undefined
    try {
      const chain = this.#ssh.jumps.map(endpoint)
      for (let i = 0; i < chain.length; i++) {
        const hop = chain[i]
        const client = await this.#connectHop(hop, sock)
        hops.push(client)
        const next = chain[i + 1] ?? {host: this.location.host, port: this.location.port}
        sock = await new Promise<import('node:stream').Duplex>((resolve, reject) =>
          client.forwardOut('127.0.0.1', 0, next.host, next.port, (error, channel) =>
            error ? reject(new PlakarError(`sftp ${this.server}: the jump host ${hop.ssh.alias} could not open a connection to ${next.host}:${next.port}: ${oneLine(error.message)}`)) : resolve(channel),
          ),
        )
      }
      return {sock, hops}
    } catch (error) {
      for (const hop of hops) hop.end()
      throw error
    }
  }

  async #connectHop(hop: {ssh: SshHost; host: string; port: number; username: string}, sock: import('node:stream').Duplex | undefined): Promise<import('ssh2').Client> {
    const {Client} = requireSsh2()
    const client = new Client()
    const name = hostKeyName(hop.host, hop.port)
    const knownHosts = this.#config.insecure_ignore_host_key ? undefined : this.#knownHosts(hop.ssh, hop.host, hop.port)
    const tried: string[] = []
    let verdict: HostKeyVerdict | undefined
    const what = `the jump host ${hop.ssh.alias} (${hop.username}@${name})`
    await new Promise<void>((resolve, reject) => {
      client.once('ready', () => resolve())
      client.once('error', (error: Error & {level?: string}) => {
        if (verdict && verdict.status !== 'known') reject(new AuthError(`sftp ${this.server}: the host key of ${what} is ${verdict.status === 'unknown' ? 'not known' : verdict.status === 'revoked' ? 'REVOKED' : 'NOT the one known_hosts holds'}: check it (ssh-keyscan -p ${hop.port} ${hop.host}) and add it to ${knownHosts?.files[0] ?? '~/.ssh/known_hosts'}`))
        else if (error.level === 'client-authentication') reject(new AuthError(`sftp ${this.server}: ${what} refused authentication (tried ${tried.join(', ') || 'nothing'})`))
        else reject(new PlakarError(`sftp ${this.server}: cannot connect to ${what}: ${oneLine(error.message)}`))
      })
      client.connect({
        host: hop.host,
        port: hop.port,
        ...(sock ? {sock} : {}),
        username: hop.username,
        readyTimeout: this.#timeoutMs,
        keepaliveInterval: Math.max(500, Math.floor(this.#timeoutMs / 4)),
        keepaliveCountMax: 3,
        hostVerifier: (key: Buffer) => {
          if (!knownHosts) return true
          verdict = verifyHostKey(knownHosts.entries, [name], Buffer.from(key))
          return verdict.status === 'known'
        },
        authHandler: authHandler(this.#authMethods(hop.username, hop.ssh), tried),
      })
    })
    return client
  }

  #knownHosts(ssh: SshHost, host: string, port: number): {entries: KnownHostEntry[]; files: string[]; types: string[]} {
    const explicit = this.#config.known_hosts
    // UserKnownHostsFile replaces ~/.ssh/known_hosts, as for ssh.
    const user = ssh.knownHostsFiles.length > 0 ? ssh.knownHostsFiles : [join(homedir(), '.ssh', 'known_hosts')]
    const files = explicit ? [expandHome(explicit)] : [...user, '/etc/ssh/ssh_known_hosts']
    const entries: KnownHostEntry[] = []
    const present: string[] = []
    for (const file of files) {
      let text: string
      try {
        text = readFileSync(file, 'utf8')
      } catch (error) {
        if (explicit) throw new PlakarError(`sftp: cannot read the known_hosts file ${file}: ${describeFsError(error)}`)
        continue
      }
      present.push(file)
      entries.push(...parseKnownHosts(text))
    }
    const names = [hostKeyName(host, port)]
    const types = [...new Set(entries.filter((e) => !e.marker && names.some((n) => patternsMatch(e.patterns, n))).map((e) => e.keyType))]
    return {entries, files: present.length > 0 ? present : files.slice(0, 1), types}
  }

  /**
   * How to authenticate `username` on a host: the identity option alone when given; else, as
   * ssh does, the agent's keys and ~/.ssh/config's IdentityFile, then the default key files
   * (only IdentityFile with IdentitiesOnly). The password option is for the server, not the
   * jump hosts (`identity` undefined there).
   */
  #authMethods(username: string, ssh: SshHost, identity?: string): Auth[] {
    const methods: Auth[] = []
    const jump = ssh !== this.#ssh
    const password = jump ? undefined : this.#config.password
    if (identity) {
      const file = expandHome(identity)
      methods.push({type: 'publickey', username, key: this.#readKey(file, true)!, describe: `publickey ${file}`})
    } else {
      const agent = process.env.SSH_AUTH_SOCK
      if (agent && existsSync(agent) && !ssh.identitiesOnly) methods.push({type: 'agent', username, agent, describe: 'ssh-agent'})
      const defaults = ssh.identitiesOnly ? [] : DEFAULT_IDENTITIES.map((name) => join(homedir(), '.ssh', name))
      for (const file of [...new Set([...ssh.identityFiles, ...defaults])]) {
        const key = this.#readKey(file, false)
        if (key) methods.push({type: 'publickey', username, key, describe: `publickey ${file}`})
      }
    }
    if (password !== undefined) methods.push({type: 'password', username, password, describe: 'password'})
    if (methods.length === 0 && jump) {
      throw new AuthError(`sftp ${this.server}: no way to authenticate on the jump host ${ssh.alias}: give it an IdentityFile in ~/.ssh/config, put a key in ~/.ssh (id_ed25519, id_ecdsa, id_rsa), or run ssh-agent`)
    }
    if (methods.length === 0) {
      throw new AuthError(
        `sftp ${this.server}: no way to authenticate: give identity=FILE or password=…, put a key in ~/.ssh (id_ed25519, id_ecdsa, id_rsa), or run ssh-agent`,
      )
    }
    return methods
  }

  /** A private key file, parsed. Explicit identities must work; default ones are skipped quietly. */
  #readKey(file: string, required: boolean): ParsedKey | Buffer | undefined {
    let data: Buffer
    try {
      data = readFileSync(file)
    } catch (error) {
      if (!required) return undefined
      throw new PlakarError(`sftp: cannot read the identity file ${file}: ${describeFsError(error)}`)
    }
    const parsed = parseKey(data)
    if (parsed instanceof Error) {
      if (!required) return undefined
      if (/encrypted|passphrase/i.test(parsed.message)) {
        throw new AuthError(`sftp: the identity file ${file} is protected by a passphrase: load it into ssh-agent (ssh-add ${file}) and leave identity unset`)
      }
      throw new PlakarError(`sftp: the identity file ${file} is not a private key this client reads (${parsed.message})`)
    }
    return data
  }
}

/** Offers the methods in order, skipping those the server does not accept; records what was tried. */
function authHandler(auths: Auth[], tried: string[]): ConnectConfig['authHandler'] {
  return ((methodsLeft: AuthenticationType[] | null, _partial: boolean, next: (m: AnyAuthMethod | false) => void) => {
    const allowed = methodsLeft ?? undefined
    for (;;) {
      const method = auths.shift()
      if (!method) return next(false)
      if (allowed && !allowed.includes(method.type as AuthenticationType)) continue
      tried.push(method.describe)
      const {describe: _, ...plain} = method
      return next(plain as AnyAuthMethod)
    }
  }) as unknown as ConnectConfig['authHandler']
}

/** ssh2's key parser, loaded on first use (ssh2 is heavy; keep it out of CLI start-up). */
let parseKeyImpl: ((data: Buffer) => ParsedKey | ParsedKey[] | Error) | undefined
function parseKey(data: Buffer): ParsedKey | Error {
  parseKeyImpl ??= (requireSsh2().utils as unknown as {parseKey: typeof parseKeyImpl}).parseKey
  const parsed = parseKeyImpl!(data)
  return Array.isArray(parsed) ? parsed[0] : parsed
}

const requireSsh2 = () => createRequire(import.meta.url)('ssh2') as typeof import('ssh2')

export function expandHome(path: string): string {
  if (path === '~') return homedir()
  if (path.startsWith('~/')) return join(homedir(), path.slice(2))
  return resolve(path)
}

function describeFsError(error: unknown): string {
  const code = (error as {code?: string}).code
  if (code === 'ENOENT') return 'no such file'
  if (code === 'EACCES') return 'permission denied'
  if (code === 'EISDIR') return 'it is a directory'
  return (error as Error).message
}
