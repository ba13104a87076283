import {PlakarCommand} from '../cli/base-command.js'
import {TOKENS} from '../cli/container.js'
import type {ConnectorRegistry} from '../connectors/registry.js'

export default class Version extends PlakarCommand {
  static override summary = 'print the version and the loaded connectors'
  static override description = 'Prints the plakar version, the Node.js version, and every connector plugins provide (kind, schemes, plugin, version, what it serves).'
  static override examples = ['plakar version', 'plakar version --json']

  async run(): Promise<void> {
    await this.parse(Version)
    const registry = this.services.resolve<ConnectorRegistry>(TOKENS.Registry)
    const conflicts = registry.conflicts()
    const order = ['importer', 'exporter', 'storage']
    const sorted = registry.connectors().sort((a, b) => a.plugin.name.localeCompare(b.plugin.name) || order.indexOf(a.kind) - order.indexOf(b.kind))
    const connectors = sorted.map((c) => ({
      kind: c.kind,
      schemes: c.schemes,
      plugin: c.plugin.name,
      version: c.plugin.version,
      // "core": shipped with plakar; "user": installed with `plakar plugins install`; "link": linked.
      source: this.config.plugins.get(c.plugin.name)?.type ?? 'core',
      // What the connector serves, as its plugin's package.json says (absent when it says nothing).
      ...(c.description ? {description: c.description} : {}),
    }))
    if (this.settings.json) {
      this.printJson({version: this.config.version, node: process.version, connectors, conflicts, problems: registry.problems})
      return
    }
    this.print(`plakar ${this.config.version} (node ${process.version})`)
    const width = Math.max(0, ...connectors.map((c) => `${c.plugin}@${c.version}`.length))
    for (const c of connectors) {
      const clash = c.schemes.filter((s) => conflicts.some((x) => x.kind === c.kind && x.scheme === s))
      const note = [c.source === 'core' ? '' : `(${c.source === 'link' ? 'linked' : 'installed'})`, clash.length > 0 ? `(conflict on ${clash.join(',')}: not used)` : '', c.description ?? '']
      this.print(`  ${c.kind.padEnd(8)} ${c.schemes.join(',').padEnd(12)} ${`${c.plugin}@${c.version}`.padEnd(width)}  ${note.filter(Boolean).join(' ')}`.trimEnd())
    }
  }
}
