import type {ConnectorContext} from '@plakar/core'

/** The context the core hands a connector factory, for a location of this plugin. */
export function context(location: string): ConnectorContext {
  const quiet = () => {}
  return {location, scheme: 'fs', config: {}, logger: {debug: quiet, info: quiet, warn: quiet}, cacheDir: '/nonexistent-cache'}
}
