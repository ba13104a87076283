import {Args, Flags} from '@oclif/core'
import {PlakarCommand} from '../cli/base-command.js'
import {locate} from '../engine/locate.js'
import {loadSnapshot, Snapshot} from '../engine/snapshot.js'

export default class Locate extends PlakarCommand {
  static override summary = 'find files by name across snapshots'
  static override description = 'Prints ID:PATH for every file whose name matches the glob pattern (case-insensitive), in every snapshot or in those given.'
  static override examples = ['plakar locate "*.pdf"', 'plakar locate --snapshot 3f2a "report-202?.odt"']
  static override args = {pattern: Args.string({description: 'glob pattern on file names', required: true})}
  static override flags = {
    snapshot: Flags.string({description: 'search only this snapshot (repeatable)', multiple: true, multipleNonGreedy: true}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Locate)
    const repo = await this.openRepository()
    const snapshots = flags.snapshot
      ? await Promise.all(flags.snapshot.map((id) => loadSnapshot(repo, id)))
      : (await repo.snapshots()).map((h) => new Snapshot(repo, h))
    for (const snapshot of snapshots) {
      for await (const path of locate(snapshot, args.pattern)) {
        if (this.settings.json) this.printJson({snapshot: snapshot.id, path})
        else this.print(`${snapshot.id.slice(0, 8)}:${path}`)
      }
    }
  }
}
