import {Command, Flags, type Interfaces} from '@oclif/core'
import type {DependencyContainer} from 'tsyringe'
import type {ConnectorResolver} from '../connectors/resolver.js'
import {ExitCode, exitCodeOf, PlakarError} from '../errors.js'
import type {Logger} from '../interfaces/connector.js'
import type {Storage} from '../interfaces/storage.js'
import type {Repository} from '../repository/repository.js'
import {createContainer, TOKENS} from './container.js'
import {describeError} from './error-message.js'
import {readPassphrase} from './passphrase.js'
import {ProgressDisplay} from './progress.js'
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
  /** Aborted on the first Ctrl-C / SIGTERM; the second one exits at once. */
  protected readonly abort = new AbortController()
  #cleanup: (() => Promise<void>)[] = []

  override async init(): Promise<void> {
    await super.init()
    const {flags} = await this.parse(commandInput(this.ctor))
    this.settings = resolveSettings(flags as Interfaces.InferredFlags<typeof PlakarCommand.baseFlags>)
    this.services = createContainer(this.settings, () =>
      [...this.config.plugins.values()].map((p) => ({name: p.name, version: p.version, root: p.root, pjson: p.pjson as {plakar?: unknown}})),
    )
    this.logger = this.services.resolve<Logger>(TOKENS.Logger)
    let signals = 0
    const onSignal = (signal: NodeJS.Signals) => {
      if (++signals > 1) process.exit(130)
      this.logger.warn(`${signal}: stopping (press Ctrl-C again to quit at once)`)
      this.abort.abort(new PlakarError('interrupted', 130))
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
  }

  /** Runs `fn` when the command ends, whatever happens (close repositories, release locks). */
  protected onExit(fn: () => Promise<void>): void {
    this.#cleanup.push(fn)
  }

  override async finally(error: Error | undefined): Promise<void> {
    for (const fn of this.#cleanup.reverse()) await fn().catch(() => {})
    return super.finally(error)
  }

  override async catch(error: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<void> {
    // A parse error leaves oclif believing the command never parsed, and outside production it
    // then prints an "UnparsedCommand" warning: one error must stay one line.
    this.parsed = true
    const code = exitCodeOf(error) !== ExitCode.ERROR ? exitCodeOf(error) : parseErrorCode(error)
    const message = describeError(error)
    if (this.settings?.json) process.stderr.write(`${JSON.stringify({error: message, exitCode: code})}\n`)
    else process.stderr.write(`plakar: ${message}\n`)
    if ((this.settings?.debug ?? process.env.PLAKAR_DEBUG === '1') && error.stack) process.stderr.write(`${error.stack}\n`)
    process.exitCode = code
  }

  get resolver(): ConnectorResolver {
    return this.services.resolve<ConnectorResolver>(TOKENS.Resolver)
  }

  /** The storage at the repository location (`at`, $PLAKAR_REPOSITORY, ~/.plakar). */
  protected async openStorage(location = this.settings.repository): Promise<Storage> {
    const storage = await this.resolver.storage(location, this.settings.repositoryOptions)
    this.onExit(() => storage.close())
    return storage
  }

  /** The passphrase of the repository: a store's passphrase_cmd, then --keyfile, env, prompt. */
  protected async passphrase(options: {confirm?: boolean} = {}): Promise<Buffer> {
    const {core} = this.resolver.resolve('storage', this.settings.repository, this.settings.repositoryOptions)
    return readPassphrase({keyfile: this.settings.keyfile, command: core.passphrase_cmd, confirm: options.confirm})
  }

  protected async openRepository(location = this.settings.repository): Promise<Repository> {
    const storage = await this.resolver.storage(location, this.settings.repositoryOptions)
    // The engine loads only for commands that open a repository: --help and version stay fast.
    const {Repository} = await import('../repository/repository.js')
    let repo: Repository
    try {
      repo = await Repository.open(storage, {
        cacheDir: this.settings.cacheDir,
        logger: this.logger,
        concurrency: this.settings.concurrency,
        passphrase: () => this.passphrase(),
        passphraseGiven: this.settings.keyfile !== undefined || process.env.PLAKAR_PASSPHRASE !== undefined,
      })
    } catch (error) {
      await storage.close().catch(() => {})
      throw error
    }
    this.onExit(() => repo.close())
    return repo
  }

  protected progress(): ProgressDisplay {
    return new ProgressDisplay(!!process.stderr.isTTY && !this.settings.quiet && !this.settings.json)
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
    if (!this.settings.quiet) process.stderr.write(`${line}\n`)
  }
}

/** Buffers (MACs, ids) become hex in JSON. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (value && typeof value === 'object' && (value as {type?: string}).type === 'Buffer' && Array.isArray((value as {data?: unknown}).data)) {
    return Buffer.from((value as {data: number[]}).data).toString('hex')
  }
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex')
  return value
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
