import {chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {type ConnectorKind, NotFoundError, UsageError} from '@plakar/sdk'

/**
 * Named connector configurations ("plakar store add NAME LOCATION key=value…", used as @NAME),
 * kept in <config dir>/config.json, readable by the owner only (it may hold credentials).
 * Stores configure storages, sources importers, destinations exporters.
 */
export type NamedKind = 'store' | 'source' | 'destination'

export const CONNECTOR_OF: Record<NamedKind, ConnectorKind> = {store: 'storage', source: 'importer', destination: 'exporter'}

export interface NamedConfig {
  location: string
  options: Record<string, string>
}

interface ConfigFile {
  version: 1
  default?: string
  store: Record<string, NamedConfig>
  source: Record<string, NamedConfig>
  destination: Record<string, NamedConfig>
}

/** Options handled by the core itself, not passed to (nor validated by) the connector. */
export const CORE_OPTIONS: Record<NamedKind, string[]> = {store: ['passphrase_cmd'], source: [], destination: []}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/

export class NamedConfigs {
  readonly path: string

  constructor(configDir: string) {
    this.path = join(configDir, 'config.json')
  }

  #load(): ConfigFile {
    let text: string
    try {
      text = readFileSync(this.path, 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {version: 1, store: {}, source: {}, destination: {}}
      throw error
    }
    try {
      const parsed = JSON.parse(text) as Partial<ConfigFile>
      return {version: 1, default: parsed.default, store: parsed.store ?? {}, source: parsed.source ?? {}, destination: parsed.destination ?? {}}
    } catch {
      throw new UsageError(`${this.path} is not valid JSON: fix or remove it`)
    }
  }

  #save(file: ConfigFile): void {
    mkdirSync(dirname(this.path), {recursive: true, mode: 0o700})
    const temp = `${this.path}.${process.pid}.tmp`
    writeFileSync(temp, `${JSON.stringify(file, null, 2)}\n`, {mode: 0o600})
    chmodSync(temp, 0o600)
    renameSync(temp, this.path)
  }

  list(kind: NamedKind): [string, NamedConfig][] {
    return Object.entries(this.#load()[kind]).sort(([a], [b]) => a.localeCompare(b))
  }

  get(kind: NamedKind, name: string): NamedConfig {
    const config = this.#load()[kind][name]
    if (!config) throw new NotFoundError(`no ${kind} named "${name}": "plakar ${kind} ls" lists them, "plakar ${kind} add" adds one`)
    return config
  }

  add(kind: NamedKind, name: string, config: NamedConfig, options: {replace?: boolean; makeDefault?: boolean} = {}): void {
    if (!NAME.test(name)) throw new UsageError(`"${name}" is not a valid name: use letters, digits, "_", "." and "-"`)
    const file = this.#load()
    if (file[kind][name] && !options.replace) throw new UsageError(`a ${kind} named "${name}" exists: remove it first or use --replace`)
    file[kind][name] = config
    if (options.makeDefault && kind === 'store') file.default = name
    this.#save(file)
  }

  remove(kind: NamedKind, name: string): void {
    const file = this.#load()
    if (!file[kind][name]) throw new NotFoundError(`no ${kind} named "${name}"`)
    delete file[kind][name]
    if (kind === 'store' && file.default === name) delete file.default
    this.#save(file)
  }

  /** The store used when no location is given: "@name" of the configured default, if any. */
  defaultStore(): string | undefined {
    return this.#load().default
  }
}

/** Splits "@name" references; anything else is a literal location. */
export function namedReference(location: string): string | undefined {
  return location.startsWith('@') ? location.slice(1) : undefined
}
