import type {ConnectorKind, Logger} from '../interfaces/connector.js'
import type {Exporter} from '../interfaces/exporter.js'
import type {Importer} from '../interfaces/importer.js'
import type {Storage} from '../interfaces/storage.js'
import {UsageError} from '../errors.js'
import {parseLocation, redactLocation} from './location.js'
import type {ConnectorRegistry} from './registry.js'

export interface ResolverOptions {
  cacheDir: string
  logger: Logger
}

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

  async #make<T>(kind: ConnectorKind, raw: string, options: Record<string, unknown>): Promise<T> {
    const {scheme, location} = parseLocation(raw)
    const connector = this.#registry.find(kind, scheme)
    const config = connector.validate(options, `${kind} ${redactLocation(raw)}`)
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
