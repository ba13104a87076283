import {Flags} from '@oclif/core'
import {PlakarCommand} from '../../cli/base-command.js'
import {TOKENS} from '../../cli/container.js'
import type {ConnectorRegistry} from '../../connectors/registry.js'

export default class PluginsLs extends PlakarCommand {
  static override summary = 'list installed plugins and the connectors they provide'
  static override description =
    'Lists the plugins installed with "plakar plugins install" or linked with "plakar plugins link", with their version and the connectors (kind and schemes) each provides. With --core, the plugins shipped with plakar too.'

  static override aliases = ['plugins:list']
  static override flags = {
    core: Flags.boolean({description: 'also list the plugins shipped with plakar'}),
  }

  static override examples = ['plakar plugins ls', 'plakar plugins ls --core --json']

  async run(): Promise<void> {
    const {flags} = await this.parse(PluginsLs)
    const registry = this.services.resolve<ConnectorRegistry>(TOKENS.Registry)
    const plugins = [...this.config.plugins.values()]
      .filter((p) => !p.isRoot && (flags.core || p.type === 'user' || p.type === 'link'))
      .sort((a, b) => (a.type === 'core' ? 0 : 1) - (b.type === 'core' ? 0 : 1) || a.name.localeCompare(b.name))
    const rows = plugins.map((p) => ({
      name: p.name,
      version: p.version,
      type: p.type as string,
      root: p.root,
      connectors: registry
        .connectors()
        .filter((c) => c.plugin.name === p.name)
        .map((c) => ({kind: c.kind, schemes: c.schemes})),
    }))
    if (this.settings.json) {
      for (const row of rows) this.printJson(row)
      return
    }
    if (rows.length === 0) {
      this.say('no plugins installed: add one with "plakar plugins install NAME" (see plakar-plugins-ls(1))')
      return
    }
    const width = Math.max(...rows.map((r) => `${r.name}@${r.version}`.length))
    for (const row of rows) {
      const what = row.connectors.map((c) => `${c.kind} ${c.schemes.join(',')}`).join('; ') || '(no connectors)'
      const type = row.type === 'user' ? 'installed' : row.type === 'link' ? 'linked' : 'shipped'
      this.print(`${`${row.name}@${row.version}`.padEnd(width)}  ${type.padEnd(9)}  ${what}`)
    }
  }
}
