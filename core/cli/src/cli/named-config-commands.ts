import {Args, Flags} from '@oclif/core'
import {CONNECTOR_OF, CORE_OPTIONS, type NamedConfigs, type NamedKind} from '../connectors/named-configs.js'
import {parseOptions} from '../connectors/resolver.js'
import {maskOptions, redactLocation} from '../connectors/secrets.js'
import {commandInput, PlakarCommand} from './base-command.js'
import {TOKENS} from './container.js'
import {columns} from './output.js'

/**
 * `plakar store|source|destination add|rm|ls|show`: the four commands are the same for the
 * three kinds, so each command file only names its kind.
 */
abstract class NamedConfigCommand extends PlakarCommand {
  // `oclif manifest` collects statics up the class chain only while each class has statics of
  // its own: without one here it stops at this class, and the manifest loses the global flags.
  static override baseFlags = PlakarCommand.baseFlags
  protected abstract readonly kind: NamedKind

  protected get named(): NamedConfigs {
    return this.services.resolve<NamedConfigs>(TOKENS.NamedConfigs)
  }

  /** Secret option names of the connector a location resolves to, plus the core's own. */
  protected secretsOf(location: string): Set<string> {
    const secrets = new Set(['passphrase_cmd'].filter((k) => CORE_OPTIONS[this.kind].includes(k)))
    try {
      const {connector} = this.resolver.resolve(CONNECTOR_OF[this.kind], location, {})
      for (const s of connector.secrets) secrets.add(s)
    } catch {
      // An unknown scheme (plugin uninstalled since): mask by name only.
    }
    return secrets
  }

  protected mask(location: string, options: Record<string, string>, reveal: boolean): Record<string, string> {
    if (reveal) return options
    return maskOptions(options, this.secretsOf(location)) as Record<string, string>
  }

  /** A location as shown: without the password of user:password@ or secret parameters. */
  protected shown(location: string, reveal = false): string {
    return reveal ? location : redactLocation(location, this.secretsOf(location))
  }
}

export abstract class NamedAdd extends NamedConfigCommand {
  static override strict = false
  static override args = {
    name: Args.string({description: 'name to refer to it as @NAME', required: true}),
    location: Args.string({description: 'location, e.g. s3://host/bucket or /path', required: true}),
    options: Args.string({description: 'connector options as key=value (any number)'}),
  }
  static override flags = {
    replace: Flags.boolean({description: 'replace an existing configuration of that name'}),
  }

  async run(): Promise<void> {
    const {args, argv, flags} = await this.parse(commandInput(this.ctor as typeof NamedAdd))
    const pairs = (argv as string[]).slice(2)
    const options = parseOptions(pairs)
    // Validate against the connector's schema before saving: every problem reported at once.
    const {connector, location} = this.resolver.resolve(CONNECTOR_OF[this.kind], args.location, options)
    await connector.checkLocation(location)
    this.named.add(this.kind, args.name, {location: args.location, options}, {replace: flags.replace, makeDefault: (flags as {default?: boolean}).default})
    if (this.settings.json) this.printJson({kind: this.kind, name: args.name, location: this.shown(args.location)})
    else this.say(`${this.kind} @${args.name} → ${this.shown(args.location)}`)
  }
}

export abstract class NamedRm extends NamedConfigCommand {
  static override args = {name: Args.string({description: 'name of the configuration', required: true})}

  async run(): Promise<void> {
    const {args} = await this.parse(commandInput(this.ctor as typeof NamedRm))
    this.named.remove(this.kind, args.name)
    if (this.settings.json) this.printJson({kind: this.kind, removed: args.name})
    else this.say(`removed ${this.kind} @${args.name}`)
  }
}

export abstract class NamedLs extends NamedConfigCommand {
  async run(): Promise<void> {
    await this.parse(commandInput(this.ctor as typeof NamedLs))
    // The default store (used without "at") is marked: "*" in text, "default" in JSON.
    const fallback = this.kind === 'store' ? this.named.defaultStore() : undefined
    const rows: string[][] = [['', 'NAME', 'LOCATION']]
    for (const [name, config] of this.named.list(this.kind)) {
      if (this.settings.json) this.printJson({name, location: this.shown(config.location), ...(this.kind === 'store' ? {default: name === fallback} : {})})
      else rows.push([name === fallback ? '*' : '', `@${name}`, this.shown(config.location)])
    }
    if (this.settings.json || rows.length === 1) return
    if (!fallback) for (const row of rows) row.shift()
    for (const line of columns(rows)) this.print(line)
    if (fallback) this.say(`(* the default store, used when no "at LOCATION" is given)`)
  }
}

export abstract class NamedShow extends NamedConfigCommand {
  static override args = {name: Args.string({description: 'name of the configuration', required: true})}
  static override flags = {secrets: Flags.boolean({description: 'show secret values instead of masking them'})}

  async run(): Promise<void> {
    const {args, flags} = await this.parse(commandInput(this.ctor as typeof NamedShow))
    const config = this.named.get(this.kind, args.name)
    const options = this.mask(config.location, config.options, flags.secrets)
    const location = this.shown(config.location, flags.secrets)
    if (this.settings.json) return this.printJson({name: args.name, location, options})
    this.print(`@${args.name}`)
    this.print(`  location ${location}`)
    for (const [k, v] of Object.entries(options)) this.print(`  ${k}=${v}`)
  }
}
