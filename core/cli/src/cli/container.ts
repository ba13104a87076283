// reflect-metadata must load before tsyringe in every entry graph (STACK.md): this module is the
// only place that imports tsyringe, and it imports the polyfill first.
import 'reflect-metadata'
import {container, instanceCachingFactory, type DependencyContainer} from 'tsyringe'
import {ConnectorRegistry, type PluginDescriptor} from '../connectors/registry.js'
import {NamedConfigs} from '../connectors/named-configs.js'
import {ConnectorResolver} from '../connectors/resolver.js'
import type {Logger} from '@plakar/sdk'
import {stderrLogger} from './output.js'
import type {Settings} from './settings.js'

/** Injection tokens: strings via Symbol.for, so installed plugins with their own copy agree. */
export const TOKENS = {
  Settings: Symbol.for('plakar.Settings'),
  Logger: Symbol.for('plakar.Logger'),
  Plugins: Symbol.for('plakar.Plugins'),
  Registry: Symbol.for('plakar.ConnectorRegistry'),
  Resolver: Symbol.for('plakar.ConnectorResolver'),
  NamedConfigs: Symbol.for('plakar.NamedConfigs'),
} as const

/**
 * Wires the services a command uses. Factories are lazy and cached: a command that never
 * touches a connector never builds the registry (and never loads ajv).
 */
export function createContainer(settings: Settings, plugins: () => PluginDescriptor[]): DependencyContainer {
  const c = container.createChildContainer()
  c.register(TOKENS.Settings, {useValue: settings})
  c.register(TOKENS.Logger, {useValue: stderrLogger(settings)})
  c.register(TOKENS.NamedConfigs, {useFactory: instanceCachingFactory(() => new NamedConfigs(settings.configDir))})
  c.register(TOKENS.Plugins, {useFactory: instanceCachingFactory(() => plugins())})
  c.register(TOKENS.Registry, {
    useFactory: instanceCachingFactory((dc) => {
      const registry = new ConnectorRegistry(dc.resolve<PluginDescriptor[]>(TOKENS.Plugins))
      const logger = dc.resolve<Logger>(TOKENS.Logger)
      for (const problem of registry.problems) logger.warn(problem)
      return registry
    }),
  })
  c.register(TOKENS.Resolver, {
    useFactory: instanceCachingFactory(
      (dc) =>
        new ConnectorResolver(dc.resolve(TOKENS.Registry), {
          cacheDir: dc.resolve<Settings>(TOKENS.Settings).cacheDir,
          logger: dc.resolve(TOKENS.Logger),
          named: dc.resolve(TOKENS.NamedConfigs),
        }),
    ),
  })
  return c
}
