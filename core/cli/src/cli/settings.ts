import {homedir} from 'node:os'
import {join} from 'node:path'
import {expandPath} from '../connectors/location.js'
import {NamedConfigs} from '../connectors/named-configs.js'
import {parseOptions} from '../connectors/resolver.js'

function defaultStore(configDir: string): string | undefined {
  const name = new NamedConfigs(expandPath(configDir)).defaultStore()
  return name === undefined ? undefined : `@${name}`
}

/** Where plakar keeps its configuration and caches, and which repository it talks to. */
export interface Settings {
  configDir: string
  cacheDir: string
  /** The repository location: `at`, then $PLAKAR_REPOSITORY, then the default store, then ~/.plakar. */
  repository: string
  /** Connector options given with `at LOCATION -o key=value`. */
  repositoryOptions: Record<string, string>
  keyfile?: string
  concurrency: number
  json: boolean
  quiet: boolean
  debug: boolean
}

export interface GlobalFlags {
  at?: string
  'at-option'?: string[]
  'config-dir'?: string
  'cache-dir'?: string
  keyfile?: string
  concurrency?: number
  json?: boolean
  quiet?: boolean
  debug?: boolean
}

export function resolveSettings(flags: GlobalFlags, env: NodeJS.ProcessEnv = process.env): Settings {
  const home = homedir()
  const configDir = flags['config-dir'] ?? env.PLAKAR_CONFIG_DIR ?? join(env.XDG_CONFIG_HOME || join(home, '.config'), 'plakar')
  const cacheDir = flags['cache-dir'] ?? env.PLAKAR_CACHE_DIR ?? join(env.XDG_CACHE_HOME || join(home, '.cache'), 'plakar')
  return {
    configDir: expandPath(configDir),
    cacheDir: expandPath(cacheDir),
    repository: flags.at ?? env.PLAKAR_REPOSITORY ?? defaultStore(configDir) ?? join(home, '.plakar'),
    repositoryOptions: parseOptions(flags['at-option'] ?? []),
    keyfile: flags.keyfile ?? env.PLAKAR_KEYFILE,
    concurrency: flags.concurrency ?? 8,
    json: !!flags.json,
    quiet: !!flags.quiet,
    debug: !!flags.debug || env.PLAKAR_DEBUG === '1',
  }
}
