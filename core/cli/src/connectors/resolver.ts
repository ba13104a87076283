import {type ConnectorKind, type Exporter, type Importer, type Logger, type Storage, UsageError} from '@plakar/sdk'
import {parseLocation, redactLocation} from './location.js'
import {CORE_OPTIONS, namedReference, type NamedConfigs, type NamedKind} from './named-configs.js'
import type {Connector, ConnectorRegistry} from './registry.js'

export interface ResolverOptions {
  cacheDir: string
  logger: Logger
  named: NamedConfigs
}

/** A location resolved to its connector, validated configuration and core-level options. */
export interface ResolvedLocation {
  location: string
  scheme: string
  connector: Connector
  config: Record<string, unknown>
  /** Options the core handles itself (a store's passphrase_cmd). */
  core: Record<string, string>
}

const NAMED_KIND: Record<ConnectorKind, NamedKind> = {storage: 'store', importer: 'source', exporter: 'destination'}

/** Parses "key=value" options; a key given twice keeps the last value. */
export function parseOptions(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const pair of pairs) {
    const eq = pair.indexOf('=')
    if (eq <= 0) throw new UsageError(`option "${pair}" is not key=value`)
    out[pair.slice(0, eq)] = pair.slice(eq + 1)
  }
  return out
}

/**
 * Turns a location and its options into a live importer, exporter or storage: finds the
 * connector serving the scheme, validates the options against its schema, then calls it.
 */
export class ConnectorResolver {
  readonly #registry: ConnectorRegistry
  readonly #options: ResolverOptions

  constructor(registry: ConnectorRegistry, options: ResolverOptions) {
    this.#registry = registry
    this.#options = options
  }

  /**
   * "@name" takes the location and options of a named configuration (options given here win);
   * then the scheme picks the connector and its schema checks the options, all problems at once.
   */
  resolve(kind: ConnectorKind, raw: string, options: Record<string, unknown> = {}): ResolvedLocation {
    let target = raw
    let merged: Record<string, unknown> = options
    const name = namedReference(raw)
    const namedKind = NAMED_KIND[kind]
    if (name !== undefined) {
      const named = this.#options.named.get(namedKind, name)
      target = named.location
      merged = {...named.options, ...options}
    }
    const core: Record<string, string> = {}
    const forConnector: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(merged)) {
      if (CORE_OPTIONS[namedKind].includes(key)) core[key] = String(value)
      else forConnector[key] = value
    }
    const {scheme, location} = parseLocation(target)
    const connector = this.#registry.find(kind, scheme)
    const config = connector.validate(forConnector, `${kind} ${name !== undefined ? `@${name}` : redactLocation(target)}`)
    return {location, scheme, connector, config, core}
  }

  async #make<T>(kind: ConnectorKind, raw: string, options: Record<string, unknown>): Promise<T> {
    const {location, scheme, connector, config} = this.resolve(kind, raw, options)
    const factory = await connector.load<T>()
    return factory({location, scheme, config, logger: this.#options.logger, cacheDir: this.#options.cacheDir})
  }

  storage(location: string, options: Record<string, unknown> = {}): Promise<Storage> {
    return this.#make<Storage>('storage', location, options)
  }

  importer(location: string, options: Record<string, unknown> = {}): Promise<Importer> {
    return this.#make<Importer>('importer', location, options)
  }

  exporter(location: string, options: Record<string, unknown> = {}): Promise<Exporter> {
    return this.#make<Exporter>('exporter', location, options)
  }
}
