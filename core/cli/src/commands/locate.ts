import {Args, Flags} from '@oclif/core'
import {PlakarCommand} from '../cli/base-command.js'
import {escapeName} from '../cli/output.js'
import {locate} from '@plakar/engine/engine/locate.js'
import {filterFromFlags, selectionFlags} from '../cli/selection-flags.js'
import {openSnapshot, selectSnapshots} from '@plakar/engine/engine/selection.js'

export default class Locate extends PlakarCommand {
  static override summary = 'find files by name across snapshots'
  static override description =
    'Prints ID:PATH for every file whose name matches the glob pattern (case-insensitive), in every snapshot, in those the filters select, or in those given.'
  static override examples = ['plakar locate "*.pdf"', 'plakar locate --snapshot 3f2a "report-202?.odt"', 'plakar locate --host web1 --since 30d "*.conf"']
  static override args = {pattern: Args.string({description: 'glob pattern on file names', required: true})}
  static override flags = {
    snapshot: Flags.string({description: 'search only this snapshot: an id prefix, latest or latest~N (repeatable)', multiple: true, multipleNonGreedy: true}),
    ...selectionFlags,
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Locate)
    const filter = filterFromFlags(flags)
    const repo = await this.openRepository()
    for (const entry of await selectSnapshots(repo, flags.snapshot ?? [], filter)) {
      const snapshot = await openSnapshot(repo, entry)
      for await (const path of locate(snapshot, args.pattern)) {
        if (this.settings.json) this.printJson({snapshot: snapshot.id, path})
        else this.print(`${snapshot.id.slice(0, 8)}:${escapeName(path)}`)
      }
    }
  }
}
