import type {Exporter} from './exporter.js'
import type {Importer} from './importer.js'
import type {Storage} from './storage.js'

export type ConnectorKind = 'importer' | 'exporter' | 'storage'

/** One entry of `plakar.connectors` in a plugin's package.json. */
export interface ConnectorDeclaration {
  kind: ConnectorKind
  /** Location schemes served: "s3" serves s3://…, "fs" serves fs:/path and bare paths. */
  schemes: string[]
  /** Module path relative to the package root; its default export is a ConnectorFactory. */
  module: string
  /** JSON Schema of the configuration: a path relative to the package root, or inline. */
  schema: string | Record<string, unknown>
  /** What the connector serves, in a few words: `plakar version` shows it. */
  description?: string
}

/** The `plakar` field of a plugin's package.json. */
export interface PluginManifest {
  contract: number
  connectors: ConnectorDeclaration[]
}

export interface Logger {
  debug(message: string): void
  info(message: string): void
  warn(message: string): void
}

/** What a connector factory receives. `config` has passed the connector's JSON Schema. */
export interface ConnectorContext<C = Record<string, unknown>> {
  /** The location exactly as the user wrote it, scheme included ("s3://host/bucket", "/home"). */
  location: string
  /** The scheme the location was resolved with. */
  scheme: string
  config: C
  logger: Logger
  /** Where a connector may keep its own cache files. */
  cacheDir: string
}

export type ImporterFactory<C = Record<string, unknown>> = (context: ConnectorContext<C>) => Promise<Importer>
export type ExporterFactory<C = Record<string, unknown>> = (context: ConnectorContext<C>) => Promise<Exporter>
export type StorageFactory<C = Record<string, unknown>> = (context: ConnectorContext<C>) => Promise<Storage>

export interface ConnectorModule<T> {
  default: (context: ConnectorContext) => Promise<T>
  /**
   * Optional: throws a usage error for a location the factory would refuse, without connecting
   * anywhere. `store add`, `source add` and `destination add` call it before saving.
   */
  checkLocation?: (location: string) => void
}
