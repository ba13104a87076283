import {Args, Flags} from '@oclif/core'
import {PlakarCommand} from '../cli/base-command.js'
import {count, formatBytes} from '../cli/output.js'
import {filterFromFlags, selectionFlags} from '../cli/selection-flags.js'
import {removeSnapshots} from '@plakar/engine/engine/remove.js'
import {isEmptyFilter, selectSnapshots, type SnapshotEntry} from '@plakar/engine/engine/selection.js'
import {UsageError} from '@plakar/sdk'

export default class Rm extends PlakarCommand {
  static override summary = 'delete snapshots'
  static override description =
    'Shows which snapshots the ids and filters select; with --apply, records their deletion. Their data is reclaimed later by maintenance.'
  static override strict = false
  static override examples = [
    'plakar rm 3f2a',
    'plakar rm --apply 3f2a',
    'plakar rm --tag test --apply',
    'plakar rm --before 2026-01-01 --tag daily',
    'plakar rm --host old-laptop --apply',
  ]
  static override args = {snapshot: Args.string({description: 'snapshot: an id prefix, latest or latest~N; repeatable'})}
  static override flags = {
    apply: Flags.boolean({description: 'delete the selected snapshots (without it, only show them)'}),
    ...selectionFlags,
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Rm)
    const refs = argv as string[]
    const filter = filterFromFlags(flags)
    if (refs.length === 0 && isEmptyFilter(filter)) {
      throw new UsageError('name snapshots to delete, or select them with --before, --since, --tag, --host, --path or --name')
    }
    const repo = await this.openRepository()
    const chosen = await selectSnapshots(repo, refs, filter)
    if (flags.apply) await removeSnapshots(repo, chosen)
    const describe = (e: SnapshotEntry) => ({
      id: e.id,
      time: new Date(e.time).toISOString(),
      host: e.host,
      name: e.name ?? null,
      tags: e.tags,
      root: e.importer.root,
      size: e.size,
    })
    if (this.settings.json) {
      this.printJson({dryRun: !flags.apply, remove: chosen.map(describe)})
      return
    }
    const verb = flags.apply ? 'deleted' : 'would delete'
    for (const e of chosen) {
      const tags = e.tags.length > 0 ? ` [${e.tags.join(',')}]` : ''
      const name = e.name ? ` (${e.name})` : ''
      this.print(`${verb}  ${e.id.slice(0, 8)}  ${new Date(e.time).toISOString()}  ${e.host}  ${formatBytes(e.size).padStart(10)}  ${e.importer.type}:${e.importer.root}${name}${tags}`)
    }
    if (chosen.length === 0) this.say('no snapshot matches: nothing to delete')
    else if (flags.apply) this.say(`deleted ${count(chosen.length, 'snapshot')}; "plakar maintenance" reclaims their space`)
    else this.say(`dry run: ${count(chosen.length, 'snapshot')} would be deleted; run again with --apply to delete them`)
  }
}
