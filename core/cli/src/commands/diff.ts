import {Args} from '@oclif/core'
import {filterFromFlags, selectionFlags} from '../cli/selection-flags.js'
import {filterSnapshots, resolveTarget} from '@plakar/engine/engine/selection.js'
import {PlakarCommand} from '../cli/base-command.js'
import {diffFiles, diffTrees, sameEntry} from '@plakar/engine/engine/diff.js'

export default class Diff extends PlakarCommand {
  static override summary = 'compare two snapshots, directories or files'
  static override description =
    'Prints a unified diff between two files, or between two directory trees (added, removed and changed entries, with the text changes of each changed file).'
  static override examples = ['plakar diff 3f2a 9c1e', 'plakar diff 3f2a:/etc/hosts 9c1e:/etc/hosts', 'plakar diff --host web1 latest~1 latest']
  static override args = {
    first: Args.string({description: 'SNAPSHOT[:PATH]', required: true}),
    second: Args.string({description: 'SNAPSHOT[:PATH]', required: true}),
  }
  static override flags = {...selectionFlags}

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Diff)
    const filter = filterFromFlags(flags)
    const repo = await this.openRepository()
    const candidates = await filterSnapshots(repo, filter)
    const {snapshot: sa, path: pa} = await resolveTarget(repo, args.first, filter, candidates)
    const {snapshot: sb, path: pb} = await resolveTarget(repo, args.second, filter, candidates)
    const [ea, eb] = [await sa.requireEntry(pa), await sb.requireEntry(pb)]
    if (ea.info.type !== 'directory' || eb.info.type !== 'directory') {
      const change = ea.info.type !== eb.info.type ? 'type-changed' : sameEntry(ea, eb) ? 'unchanged' : 'modified'
      if (this.settings.json) this.printJson({first: pa, second: pb, change})
      else if (change !== 'unchanged') process.stdout.write(await diffFiles(sa, pa, ea, sb, pb, eb))
      return
    }
    for await (const change of diffTrees(sa, pa, sb, pb)) {
      if (this.settings.json) {
        this.printJson({change: change.change, path: change.path, type: (change.after ?? change.before)!.info.type})
        continue
      }
      const sign = {added: '+', removed: '-', modified: '~', 'type-changed': '!'}[change.change]
      this.print(`${sign} ${change.path}`)
      if (change.change === 'modified' && change.after?.info.type === 'file') {
        const join = (base: string, rel: string) => (rel === '/' ? base : `${base === '/' ? '' : base}${rel}`)
        process.stdout.write(await diffFiles(sa, join(pa, change.path), change.before, sb, join(pb, change.path), change.after))
      }
    }
  }
}
