import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import {
  type ConnectorContext,
  type ConnectorDeclaration,
  type ConnectorKind,
  CONTRACT_VERSION,
  PlakarError,
  type PluginManifest,
  UsageError,
} from '@plakar/sdk'
import {schemaSecrets} from './secrets.js'
import {compileConfigSchema, type ConfigValidator} from './config-schema.js'

/** What the CLI knows of an installed package (first-party or not): oclif's plugin list. */
export interface PluginDescriptor {
  name: string
  version: string
  root: string
  pjson: {plakar?: unknown}
}

export interface Connector {
  kind: ConnectorKind
  schemes: string[]
  plugin: {name: string; version: string}
  description?: string
  validate: ConfigValidator
  /** Option names that hold secrets (schema `writeOnly: true` or `x-secret: true`): masked on display. */
  secrets: string[]
  /** Imports the connector's module (lazily: heavy SDKs load only when used). */
  load<T>(): Promise<(context: ConnectorContext) => Promise<T>>
  /**
   * Refuses, with a usage error, a location the connector would refuse when used: its module's
   * optional `checkLocation` export. `store add` and its kin call it, so that nothing is saved
   * that every later use rejects.
   */
  checkLocation(location: string): Promise<void>
}

const KINDS: ConnectorKind[] = ['importer', 'exporter', 'storage']

/**
 * Every connector of every plugin, found through the same declaration whoever wrote the plugin.
 * A plugin that declares nonsense is reported once (in `problems`) and left out; the rest of
 * the CLI keeps working.
 */
export class ConnectorRegistry {
  readonly problems: string[] = []
  readonly #byScheme = new Map<string, Connector>()
  readonly #conflicts = new Map<string, string[]>()
  readonly #all: Connector[] = []

  constructor(plugins: PluginDescriptor[]) {
    for (const plugin of plugins) {
      if (plugin.pjson.plakar === undefined) continue
      try {
        this.#register(plugin)
      } catch (error) {
        this.problems.push(`plugin ${plugin.name}@${plugin.version} is ignored: ${(error as Error).message}`)
      }
    }
    // No precedence between plugins: a scheme two plugins claim is served by neither (a plugin
    // must never silently take over a scheme, and the credentials given for it, from another).
    for (const {kind, scheme, plugins: names} of this.conflicts()) {
      this.problems.push(`the ${kind} scheme "${scheme}" is claimed by ${names.join(' and ')}: it is served by neither until all but one are uninstalled`)
    }
  }

  #register(plugin: PluginDescriptor): void {
    const manifest = plugin.pjson.plakar as PluginManifest
    if (typeof manifest !== 'object' || manifest === null || !Array.isArray(manifest.connectors)) {
      throw new Error('its package.json "plakar" field has no "connectors" list')
    }
    if (manifest.contract !== CONTRACT_VERSION) {
      throw new Error(
        `it is built for plugin contract ${String(manifest.contract)} but this plakar speaks contract ${CONTRACT_VERSION}: ` +
          `install a release of ${plugin.name} made for contract ${CONTRACT_VERSION}`,
      )
    }
    const connectors = manifest.connectors.map((decl) => this.#connector(plugin, decl))
    for (const connector of connectors) {
      this.#all.push(connector)
      for (const scheme of connector.schemes) {
        const key = `${connector.kind}:${scheme}`
        const existing = this.#byScheme.get(key)
        if (existing) {
          const names = this.#conflicts.get(key) ?? [existing.plugin.name]
          names.push(plugin.name)
          this.#conflicts.set(key, names)
        } else this.#byScheme.set(key, connector)
      }
    }
  }

  #connector(plugin: PluginDescriptor, decl: ConnectorDeclaration): Connector {
    if (!KINDS.includes(decl?.kind)) throw new Error(`a connector has kind "${String(decl?.kind)}" (expected ${KINDS.join(', ')})`)
    if (!Array.isArray(decl.schemes) || decl.schemes.length === 0 || !decl.schemes.every((s) => /^[a-z][a-z0-9+.-]*$/.test(s))) {
      throw new Error(`its ${decl.kind} declares invalid schemes (lowercase names like "s3" expected)`)
    }
    if (typeof decl.module !== 'string') throw new Error(`its ${decl.kind} declares no module`)
    const schema = typeof decl.schema === 'string' ? JSON.parse(readFileSync(join(plugin.root, decl.schema), 'utf8')) : decl.schema
    let validate: ConfigValidator
    try {
      validate = compileConfigSchema(schema)
    } catch (error) {
      throw new Error(`the configuration schema of its ${decl.kind} is invalid: ${(error as Error).message}`)
    }
    const modulePath = join(plugin.root, decl.module)
    return {
      kind: decl.kind,
      schemes: decl.schemes,
      plugin: {name: plugin.name, version: plugin.version},
      description: decl.description,
      validate,
      secrets: secretKeys(schema),
      async checkLocation(location: string) {
        let mod: {checkLocation?: unknown}
        try {
          mod = (await import(pathToFileURL(modulePath).href)) as {checkLocation?: unknown}
        } catch (error) {
          throw new PlakarError(`the ${decl.kind} of plugin ${plugin.name} fails to load: ${(error as Error).message}`)
        }
        if (typeof mod.checkLocation === 'function') (mod.checkLocation as (location: string) => void)(location)
      },
      async load<T>() {
        let mod: {default?: unknown}
        try {
          mod = (await import(pathToFileURL(modulePath).href)) as {default?: unknown}
        } catch (error) {
          throw new PlakarError(`the ${decl.kind} of plugin ${plugin.name} fails to load: ${(error as Error).message}`)
        }
        if (typeof mod.default !== 'function') {
          throw new PlakarError(`the ${decl.kind} of plugin ${plugin.name} does not export a factory function`)
        }
        return mod.default as (context: ConnectorContext) => Promise<T>
      },
    }
  }

  connectors(): Connector[] {
    return [...this.#all]
  }

  /** Schemes that several plugins claim for one kind: find() refuses them, naming the plugins. */
  conflicts(): {kind: ConnectorKind; scheme: string; plugins: string[]}[] {
    return [...this.#conflicts].map(([key, plugins]) => {
      const colon = key.indexOf(':')
      return {kind: key.slice(0, colon) as ConnectorKind, scheme: key.slice(colon + 1), plugins: [...plugins].sort()}
    })
  }

  schemes(kind: ConnectorKind): string[] {
    return [...this.#byScheme.keys()].filter((k) => k.startsWith(`${kind}:`)).map((k) => k.slice(kind.length + 1)).sort()
  }

  find(kind: ConnectorKind, scheme: string): Connector {
    const key = `${kind}:${scheme}`
    const conflict = this.#conflicts.get(key)
    if (conflict) {
      throw new UsageError(`the ${kind} scheme "${scheme}" is claimed by several plugins (${[...conflict].sort().join(', ')}): uninstall all but one`)
    }
    const connector = this.#byScheme.get(key)
    if (!connector) {
      const known = this.schemes(kind)
      throw new UsageError(
        `unknown ${kind} scheme "${scheme}": this plakar serves ${known.map((s) => `${s}:`).join(', ') || 'none'}` +
          ` (install a plugin with "plakar plugins install" for others)`,
      )
    }
    return connector
  }
}

function secretKeys(schema: {properties?: Record<string, {writeOnly?: boolean; 'x-secret'?: boolean}>}): string[] {
  return schemaSecrets(schema)
}
