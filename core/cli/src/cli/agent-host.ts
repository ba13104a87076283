import {existsSync} from 'node:fs'
import {AuthError, type Logger} from '@plakar/sdk'
import type {TaskHost} from '@plakar/agent/interfaces/task-host.js'
import type {Repository} from '@plakar/engine/repository/repository.js'
import type {ConnectorRegistry} from '../connectors/registry.js'
import {ConnectorResolver} from '../connectors/resolver.js'
import type {NamedConfigs} from '../connectors/named-configs.js'
import {redactLocation} from '../connectors/location.js'
import {parseLocation} from '../connectors/location.js'
import {readPassphrase} from './passphrase.js'
import {Policies} from './policies.js'
import {policyFromWords} from './retention-flags.js'
import type {Settings} from './settings.js'

/**
 * The agent's view of the CLI's services: connectors through the plugin registry, passphrases
 * (a store's passphrase_cmd, a key file, $PLAKAR_PASSPHRASE — never a prompt: nobody is there
 * to answer it), and named retention policies.
 */
export function agentHost(settings: Settings, registry: ConnectorRegistry, named: NamedConfigs, logger: Logger): TaskHost {
  const resolverFor = (log: Logger) => new ConnectorResolver(registry, {cacheDir: settings.cacheDir, logger: log, named})
  return {
    cacheDir: settings.cacheDir,
    concurrency: settings.concurrency,
    command: ['agent'],
    taskProcess: taskProcessCommand(settings),
    redact: (location) => redactLocation(location),
    async openRepository(location, options): Promise<Repository> {
      const resolver = resolverFor(options.logger)
      const {core} = resolver.resolve('storage', location, options.storageOptions ?? {})
      const keyfile = options.keyfile ?? settings.keyfile
      if (!core.passphrase_cmd && !keyfile && process.env.PLAKAR_PASSPHRASE === undefined) {
        throw new AuthError(`no passphrase for ${redactLocation(location)}: give the task a keyfile, use a store with passphrase_cmd, or set PLAKAR_PASSPHRASE for the agent`)
      }
      const storage = await resolver.storage(location, options.storageOptions ?? {})
      const {Repository} = await import('@plakar/engine/repository/repository.js')
      try {
        return await Repository.open(storage, {
          cacheDir: settings.cacheDir,
          logger: options.logger,
          concurrency: settings.concurrency,
          passphrase: () => readPassphrase({keyfile, command: core.passphrase_cmd, location: storage.location}),
          passphraseGiven: true,
        })
      } catch (error) {
        await storage.close().catch(() => {})
        throw error
      }
    },
    importer: (location, options, log) => resolverFor(log).importer(location, options),
    exporter: (location, log) => resolverFor(log).exporter(location),
    policy: (name) => policyFromWords(new Policies(settings.configDir).get(name)),
    problems(task) {
      const out: {key: string; message: string}[] = []
      const attempt = (key: string, fn: () => void) => {
        try {
          fn()
        } catch (error) {
          out.push({key, message: (error as Error).message})
        }
      }
      const resolver = resolverFor(logger)
      attempt('repository', () => resolver.resolve('storage', task.repository))
      if (task.peer) attempt(task.kind === 'sync' ? 'peer' : 'repository', () => resolver.resolve('storage', task.peer!))
      for (const source of task.sources ?? []) {
        attempt('source', () => resolver.resolve('importer', source))
        const {scheme, location} = parseLocation(source)
        if (scheme === 'fs' && !existsSync(location)) out.push({key: 'source', message: `source ${source} does not exist`})
      }
      if (task.keyfile && !existsSync(task.keyfile)) out.push({key: 'keyfile', message: `key file ${task.keyfile} does not exist`})
      if (task.policy) attempt('policy', () => policyFromWords(new Policies(settings.configDir).get(task.policy!)))
      return out
    },
  }
}

/**
 * The task process: this program again, as the hidden `agent run-task`, with the settings the
 * agent was given as flags (never a secret: a passphrase reaches it through the environment or
 * a key file, as it reached the agent), and the agent's Node options (a debugger's excepted: its
 * port is the agent's).
 */
function taskProcessCommand(settings: Settings): {command: string; args: string[]} {
  const node = process.execArgv.filter((a) => !a.startsWith('--inspect'))
  const flags = ['--config-dir', settings.configDir, '--cache-dir', settings.cacheDir, '--concurrency', String(settings.concurrency)]
  if (settings.keyfile) flags.push('--keyfile', settings.keyfile)
  if (settings.debug) flags.push('--debug')
  return {command: process.execPath, args: [...node, process.argv[1], 'agent', 'run-task', ...flags]}
}
