import {Flags} from '@oclif/core'
import {PlakarCommand} from '../../cli/base-command.js'
import {TOKENS} from '../../cli/container.js'
import type {Connector, ConnectorRegistry} from '../../connectors/registry.js'

/** Imports a connector's module (what a command using its scheme would do first): {} or {error}. */
async function loadError(connector: Connector): Promise<{error?: string}> {
  try {
    await connector.load()
    return {}
  } catch (error) {
    return {error: (error as Error).message.replace(/^the \w+ of plugin \S+ (fails to load: )?/, '')}
  }
}

export default class PluginsLs extends PlakarCommand {
  static override summary = 'list installed plugins and the connectors they provide'
  static override description =
    'Lists the plugins installed with "plakar plugins install" or linked with "plakar plugins link", with their version and the connectors (kind and schemes) each provides. With --core, the plugins shipped with plakar too.'

  static override aliases = ['plugins', 'plugins:list']
  static override flags = {
    core: Flags.boolean({description: 'also list the plugins shipped with plakar'}),
    check: Flags.boolean({description: 'also load every connector module listed, and report those that fail'}),
  }

  static override examples = ['plakar plugins ls', 'plakar plugins ls --core --json', 'plakar plugins ls --check']

  async run(): Promise<void> {
    const {flags} = await this.parse(PluginsLs)
    const registry = this.services.resolve<ConnectorRegistry>(TOKENS.Registry)
    const plugins = [...this.config.plugins.values()]
      .filter((p) => !p.isRoot && (flags.core || p.type === 'user' || p.type === 'link'))
      .sort((a, b) => (a.type === 'core' ? 0 : 1) - (b.type === 'core' ? 0 : 1) || a.name.localeCompare(b.name))
    const rows = await Promise.all(
      plugins.map(async (p) => ({
        name: p.name,
        version: p.version,
        type: p.type as string,
        root: p.root,
        connectors: await Promise.all(
          registry
            .connectors()
            .filter((c) => c.plugin.name === p.name)
            .map(async (c) => ({kind: c.kind, schemes: c.schemes, ...(flags.check ? await loadError(c) : {})})),
        ),
      })),
    )
    const failed = rows.flatMap((r) => r.connectors.filter((c) => 'error' in c))
    if (failed.length > 0) process.exitCode = 1
    if (this.settings.json) {
      for (const row of rows) this.printJson(row)
      return
    }
    if (rows.length === 0) {
      this.say('no plugins installed: add one with "plakar plugins install NAME" (see plakar-plugins-ls(1))')
      return
    }
    if (failed.length > 0) this.logger.warn(`${failed.length} connector${failed.length > 1 ? 's' : ''} failed to load`)
    const width = Math.max(...rows.map((r) => `${r.name}@${r.version}`.length))
    for (const row of rows) {
      const what = row.connectors.map((c) => `${c.kind} ${c.schemes.join(',')}${'error' in c ? ` (fails to load: ${c.error})` : ''}`).join('; ') || '(no connectors)'
      const type = row.type === 'user' ? 'installed' : row.type === 'link' ? 'linked' : 'shipped'
      this.print(`${`${row.name}@${row.version}`.padEnd(width)}  ${type.padEnd(9)}  ${what}`)
    }
  }
}
