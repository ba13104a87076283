import {PlakarCommand} from '../cli/base-command.js'
import {TOKENS} from '../cli/container.js'
import type {ConnectorRegistry} from '../connectors/registry.js'

export default class Version extends PlakarCommand {
  static override summary = 'print the version and the loaded connectors'
  static override description = 'Prints the plakar version, the Node.js version, and every connector plugins provide (kind, schemes, plugin, version).'
  static override examples = ['plakar version', 'plakar version --json']

  async run(): Promise<void> {
    await this.parse(Version)
    const registry = this.services.resolve<ConnectorRegistry>(TOKENS.Registry)
    const connectors = registry.connectors().map((c) => ({kind: c.kind, schemes: c.schemes, plugin: c.plugin.name, version: c.plugin.version}))
    if (this.settings.json) {
      this.printJson({version: this.config.version, node: process.version, connectors, problems: registry.problems})
      return
    }
    this.print(`plakar ${this.config.version} (node ${process.version})`)
    for (const c of connectors) this.print(`  ${c.kind.padEnd(8)} ${c.schemes.join(',').padEnd(12)} ${c.plugin}@${c.version}`)
  }
}
