import {Args} from '@oclif/core'
import {PlakarCommand} from '../cli/base-command.js'
import {diffFiles, diffTrees, sameEntry} from '../engine/diff.js'
import {loadSnapshot, parseSnapshotPath} from '../engine/snapshot.js'

export default class Diff extends PlakarCommand {
  static override summary = 'compare two snapshots, directories or files'
  static override description =
    'Prints a unified diff between two files, or between two directory trees (added, removed and changed entries, with the text changes of each changed file).'
  static override examples = ['plakar diff 3f2a 9c1e', 'plakar diff 3f2a:/etc/hosts 9c1e:/etc/hosts']
  static override args = {
    first: Args.string({description: 'ID[:PATH]', required: true}),
    second: Args.string({description: 'ID[:PATH]', required: true}),
  }

  async run(): Promise<void> {
    const {args} = await this.parse(Diff)
    const repo = await this.openRepository()
    const a = parseSnapshotPath(args.first)
    const b = parseSnapshotPath(args.second)
    const sa = await loadSnapshot(repo, a.id)
    const sb = await loadSnapshot(repo, b.id)
    const pa = sa.resolve(a.path)
    const pb = sb.resolve(b.path)
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
