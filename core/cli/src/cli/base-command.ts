import {Command, Flags, type Interfaces} from '@oclif/core'
import type {DependencyContainer} from 'tsyringe'
import type {ConnectorResolver} from '../connectors/resolver.js'
import {ExitCode, exitCodeOf, type Logger, type Storage, UsageError} from '@plakar/sdk'
import type {Repository} from '@plakar/engine/repository/repository.js'
import {createContainer, TOKENS} from './container.js'
import {describeError} from './error-message.js'
import {usageLines} from './help.js'
import {InterruptedError, Interruption} from './interrupt.js'
import {readPassphrase} from './passphrase.js'
import {ProgressDisplay, stopAllProgress} from './progress.js'
import {clearStatus, printAbove} from './status-line.js'
import {resolveSettings, type Settings} from './settings.js'

/**
 * Every command: global flags, settings, one-line errors with documented exit codes, JSON
 * output, Ctrl-C handling, and access to the repository. Commands stay thin: they parse flags
 * and call the engine.
 */
export abstract class PlakarCommand extends Command {
  static override baseFlags = {
    json: Flags.boolean({description: 'print machine-readable JSON instead of text', helpGroup: 'GLOBAL'}),
    quiet: Flags.boolean({char: 'q', description: 'print no progress and no summary', helpGroup: 'GLOBAL'}),
    debug: Flags.boolean({description: 'print debugging details, and stack traces on errors', helpGroup: 'GLOBAL'}),
    'config-dir': Flags.string({description: 'configuration directory', helpGroup: 'GLOBAL'}),
    'cache-dir': Flags.string({description: 'cache directory', helpGroup: 'GLOBAL'}),
    keyfile: Flags.string({description: 'read the passphrase from this file', helpGroup: 'GLOBAL'}),
    concurrency: Flags.integer({description: 'parallel operations', min: 1, max: 256, helpGroup: 'GLOBAL'}),
    at: Flags.string({hidden: true, description: 'repository location (written "plakar at LOCATION command")'}),
    'at-option': Flags.string({hidden: true, multiple: true, description: 'repository connector option (written "plakar at LOCATION -o key=value command")'}),
  }

  protected settings!: Settings
  protected services!: DependencyContainer
  protected logger!: Logger
  #interruption?: Interruption
  #reported = false
  #cleanup: (() => Promise<void>)[] = []

  /** Aborted on the first Ctrl-C, SIGTERM, SIGHUP or closed stdout (see interrupt.ts). */
  protected get signal(): AbortSignal {
    return this.#interruption?.signal ?? neverAborted
  }

  /** @deprecated use {@link signal}; kept for commands written against the older name. */
  protected get abort(): {readonly signal: AbortSignal} {
    return {signal: this.signal}
  }

  override async init(): Promise<void> {
    // Before parsing: a Ctrl-C at a passphrase prompt or during a slow connection counts too.
    this.#interruption = new Interruption({
      // Under --json, standard error carries JSON lines only (docs/json.md), this one too.
      notice: (message) => {
        if (this.#json) process.stderr.write(`${JSON.stringify({level: 'info', message})}\n`)
        else printAbove(`plakar: ${message}`)
      },
      teardown: () => stopAllProgress(),
      shutdown: async () => {
        // The command did not unwind in time: release its locks (they would expire anyway),
        // then exit. What was written so far is unreferenced and harmless (as after a crash).
        const error = new InterruptedError(this.#interruption!.reason ?? 'SIGINT')
        // Said under --debug: a command that does not unwind by itself (a read nothing can
        // cancel) is a defect to find, even though the exit below hides it.
        this.logger?.debug('the command did not unwind within its grace period after the interruption: exiting without it')
        if (error.reason !== 'EPIPE') this.#report(error, error.plakarExitCode)
        const {releaseHeldLocks} = await import('@plakar/engine/repository/lock.js')
        await releaseHeldLocks()
      },
    }).install()
    await super.init()
    const {flags} = await this.parse(commandInput(this.ctor))
    this.settings = resolveSettings(flags as Interfaces.InferredFlags<typeof PlakarCommand.baseFlags>)
    this.services = createContainer(this.settings, () =>
      [...this.config.plugins.values()].map((p) => ({name: p.name, version: p.version, root: p.root, pjson: p.pjson as {plakar?: unknown}})),
    )
    this.logger = this.services.resolve<Logger>(TOKENS.Logger)
  }

  /**
   * For a daemon (agent start --foreground) that handles SIGTERM and SIGINT itself: it drains
   * its running tasks for longer than the interruption's one-second grace would allow.
   */
  protected handleSignalsItself(): void {
    this.#interruption?.uninstall()
    this.#interruption = undefined
  }

  /** Runs `fn` when the command ends, whatever happens (close repositories, release locks). */
  protected onExit(fn: () => Promise<void>): void {
    this.#cleanup.push(fn)
  }

  override async finally(error: Error | undefined): Promise<void> {
    stopAllProgress()
    for (const fn of this.#cleanup.reverse()) await fn().catch(() => {})
    await super.finally(error)
    const code = this.#interruption?.exitCode
    this.#interruption?.uninstall()
    // Interrupted and unwound: exit now, whatever else (a worker, a socket being torn down)
    // would keep the event loop alive. stdout and stderr are synchronous on pipes, files and
    // terminals on Linux, so nothing printed is lost.
    if (code !== undefined) process.exit(code)
  }

  override async catch(error: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<void> {
    // A parse error leaves oclif believing the command never parsed, and outside production it
    // then prints an "UnparsedCommand" warning: one error must stay one line.
    this.parsed = true
    stopAllProgress()
    // Interrupted: whatever error the abort surfaced as (AbortError, a closed socket, the
    // prompt's own), the command was stopped, and says so with the signal's exit code.
    const reason = this.#interruption?.reason
    if (reason) error = new InterruptedError(reason)
    else if (isParseError(error)) error = new UsageError(`${parseErrorMessage(error)}; usage: ${this.#usage()}`)
    const code = exitCodeOf(error) !== ExitCode.ERROR ? exitCodeOf(error) : parseErrorCode(error)
    if (reason !== 'EPIPE') this.#report(error, code)
    process.exitCode = code
  }

  /** The first usage line of this command (its page's SYNOPSIS). */
  #usage(): string {
    const ctor = this.ctor as unknown as {args?: Command.Loadable['args']; strict?: boolean}
    return usageLines({id: this.id ?? '', args: ctor.args ?? {}, strict: ctor.strict ?? true}, this.config.root)[0]
  }

  /** Whether output is JSON; before the flags are parsed (a parse error, an early Ctrl-C), read from the arguments. */
  get #json(): boolean {
    return this.settings?.json ?? this.argv.includes('--json')
  }

  #report(error: Error, code: number): void {
    if (this.#reported) return
    this.#reported = true
    clearStatus()
    const message = describeError(error)
    if (this.#json) process.stderr.write(`${JSON.stringify({error: message, exitCode: code})}\n`)
    else process.stderr.write(`plakar: ${message}\n`)
    if ((this.settings?.debug ?? process.env.PLAKAR_DEBUG === '1') && error.stack && !(error instanceof InterruptedError)) {
      process.stderr.write(`${error.stack}\n`)
    }
  }

  get resolver(): ConnectorResolver {
    return this.services.resolve<ConnectorResolver>(TOKENS.Resolver)
  }

  /** The storage at the repository location (`at`, $PLAKAR_REPOSITORY, ~/.plakar). */
  protected async openStorage(location = this.settings.repository, options = this.settings.repositoryOptions): Promise<Storage> {
    const storage = await this.resolver.storage(location, options)
    this.onExit(() => storage.close())
    return storage
  }

  /** The passphrase of the repository: a store's passphrase_cmd, then --keyfile, env, prompt. */
  protected async passphrase(options: {confirm?: boolean; location?: string; beforePrompt?: () => void} = {}): Promise<Buffer> {
    const {core} = this.resolver.resolve('storage', this.settings.repository, this.settings.repositoryOptions)
    return readPassphrase({
      keyfile: this.settings.keyfile,
      command: core.passphrase_cmd,
      confirm: options.confirm,
      location: options.location ?? this.settings.repository,
      beforePrompt: options.beforePrompt,
    })
  }

  /**
   * The passphrase of another repository (sync's peer, create --from): its named store's
   * passphrase_cmd, then `keyfile` (--peer-keyfile), then $PLAKAR_PEER_PASSPHRASE, then what this
   * repository's passphrase comes from (peers often share one), then a prompt.
   */
  protected async peerPassphrase(location: string, keyfile?: string): Promise<Buffer> {
    const {core} = this.resolver.resolve('storage', location)
    const peer = process.env.PLAKAR_PEER_PASSPHRASE
    return readPassphrase({
      command: core.passphrase_cmd,
      keyfile: keyfile ?? (peer === undefined ? this.settings.keyfile : undefined),
      env: {...process.env, PLAKAR_PASSPHRASE: peer ?? process.env.PLAKAR_PASSPHRASE},
      prompt: `passphrase of ${location}:`,
    })
  }

  protected async openRepository(
    location = this.settings.repository,
    peer?: {options?: Record<string, unknown>; keyfile?: string},
  ): Promise<Repository> {
    const storage = await this.resolver.storage(location, peer ? (peer.options ?? {}) : this.settings.repositoryOptions)
    // The engine loads only for commands that open a repository: --help and version stay fast.
    const {Repository} = await import('@plakar/engine/repository/repository.js')
    let repo: Repository
    try {
      repo = await Repository.open(storage, {
        cacheDir: this.settings.cacheDir,
        logger: this.logger,
        concurrency: this.settings.concurrency,
        passphrase: () => (peer ? this.peerPassphrase(location, peer.keyfile) : this.passphrase({location: storage.location})),
        passphraseGiven: peer ? false : this.settings.keyfile !== undefined || process.env.PLAKAR_PASSPHRASE !== undefined,
      })
    } catch (error) {
      await storage.close().catch(() => {})
      throw error
    }
    this.onExit(() => repo.close())
    return repo
  }

  protected progress(): ProgressDisplay {
    if (this.settings.quiet || this.settings.json || this.signal.aborted) return new ProgressDisplay('off')
    // Off a terminal, one line every 10 s (PLAKAR_PROGRESS_INTERVAL ms): logs of scheduled runs.
    const interval = Number(process.env.PLAKAR_PROGRESS_INTERVAL) || undefined
    return process.stderr.isTTY ? new ProgressDisplay('bar') : new ProgressDisplay('lines', {interval})
  }

  /** One JSON value per line on stdout. */
  protected printJson(value: unknown): void {
    process.stdout.write(`${JSON.stringify(value, jsonReplacer)}\n`)
  }

  protected print(line: string): void {
    process.stdout.write(`${line}\n`)
  }

  /** Results the user did not ask to be quiet about (summaries). */
  protected say(line: string): void {
    if (!this.settings.quiet) printAbove(line)
  }
}

const neverAborted = new AbortController().signal

/** Buffers (MACs, ids) become hex in JSON. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (value && typeof value === 'object' && (value as {type?: string}).type === 'Buffer' && Array.isArray((value as {data?: unknown}).data)) {
    return Buffer.from((value as {data: number[]}).data).toString('hex')
  }
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex')
  return value
}

/** oclif's parse errors, recognised by class name (installed plugins have their own oclif). */
function isParseError(error: Error): boolean {
  return /^(RequiredArgs|UnexpectedArgs|NonExistentFlags|FlagInvalidOption|ArgInvalidOption|FailedFlagValidation|ViolatedFlagConstraint|CLIParse)Error$/.test(error.constructor?.name ?? '')
}

/** A whole parse error on one line: what is missing or wrong, every item of it. */
function parseErrorMessage(error: Error & {args?: {name: string; description?: string}[]}): string {
  if (error.constructor.name === 'RequiredArgsError' && error.args?.length) {
    const names = error.args.map((a) => `${a.name.toUpperCase()}${a.description ? ` (${a.description})` : ''}`)
    return `missing argument${names.length > 1 ? 's' : ''} ${names.join(', ')}`
  }
  const lines = error.message
    .split('\n')
    .map((l) => l.replace(/\u001b\[[0-9;]*m/g, '').trim())
    .filter((l) => l !== '' && !/^The following errors? occurred:$/.test(l) && !/^See more help with --help$/.test(l))
  const text = lines.join('; ').replace(/Missing required flag (\w[\w-]*)/g, 'missing required flag --$1')
  return text.charAt(0).toLowerCase() + text.slice(1)
}

/** oclif's own parse errors (unknown flag, missing argument) are usage errors: exit 2. */
function parseErrorCode(error: {oclif?: {exit?: number}; name?: string; constructor?: {name?: string}}): number {
  const name = error.constructor?.name ?? ''
  if (/Flag|Arg|Parse|Validation|Option/.test(name) || error.oclif?.exit === 2) return ExitCode.USAGE
  return ExitCode.ERROR
}

/**
 * A command class's parser input, read through the prototype chain: oclif spreads the class
 * (`{...options}`), which keeps only own properties and so drops statics a subclass inherits.
 */
export function commandInput<T extends typeof Command>(ctor: T): T {
  return {flags: ctor.flags, baseFlags: ctor.baseFlags, args: ctor.args, strict: ctor.strict, enableJsonFlag: ctor.enableJsonFlag} as unknown as T
}
