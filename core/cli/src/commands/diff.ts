import {Args, Flags} from '@oclif/core'
import {filterFromFlags, selectionFlags} from '../cli/selection-flags.js'
import {filterSnapshots, resolveTarget} from '@plakar/engine/engine/selection.js'
import {PlakarCommand} from '../cli/base-command.js'
import {count, escapeName} from '../cli/output.js'
import {diffFiles, diffTrees, sameEntry} from '@plakar/engine/engine/diff.js'
import {startThaw, thawFlags} from '../cli/thaw.js'
import {coldStorageOf} from '@plakar/engine/engine/thaw.js'

export default class Diff extends PlakarCommand {
  static override summary = 'compare two snapshots, directories or files'
  static override description =
    'Prints a unified diff between two files, or between two directory trees (added, removed and changed entries, with the text changes of each changed file).'
  static override examples = ['plakar diff 3f2a 9c1e', 'plakar diff 3f2a:/etc/hosts 9c1e:/etc/hosts', 'plakar diff --host web1 latest~1 latest']
  static override args = {
    first: Args.string({description: 'SNAPSHOT[:PATH]', required: true}),
    second: Args.string({description: 'SNAPSHOT[:PATH]', required: true}),
  }
  static override flags = {
    'name-only': Flags.boolean({description: 'print only the paths of what differs, one per line', exclusive: ['stat']}),
    stat: Flags.boolean({description: 'print each changed file with its count of changed lines, then a total'}),
    ...selectionFlags,
    ...thawFlags,
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Diff)
    const filter = filterFromFlags(flags)
    const repo = await this.openRepository()
    const candidates = await filterSnapshots(repo, filter)
    const {snapshot: sa, path: pa} = await resolveTarget(repo, args.first, filter, candidates)
    const {snapshot: sb, path: pb} = await resolveTarget(repo, args.second, filter, candidates)
    const [ea, eb] = [await sa.requireEntry(pa), await sb.requireEntry(pb)]
    // On a cold storage, file content is archived: the changes are listed from metadata, and
    // text diffs are shown only with --yes, after thawing the content of the changed files.
    const cold = coldStorageOf(repo) !== undefined
    const withContent = !cold || flags.yes === true
    if (cold && withContent) {
      const context = {repo, logger: this.logger, json: this.settings.json, quiet: this.settings.quiet, signal: this.abort.signal}
      // Text diffs are printed in tree order: the thaw completes first.
      const thaw = await startThaw(context, flags, async (c) => {
        const add = async (s: typeof sa, e: typeof ea | undefined) => {
          if (e?.info.type === 'file' && e.info.size <= 8 * 1024 * 1024) for (const [mac] of await s.chunks(e)) c.add(mac)
        }
        if (ea.info.type !== 'directory' || eb.info.type !== 'directory') {
          await add(sa, ea)
          await add(sb, eb)
          return
        }
        for await (const change of diffTrees(sa, pa, sb, pb)) {
          if (change.change !== 'modified' || change.after?.info.type !== 'file') continue
          await add(sa, change.before)
          await add(sb, change.after)
        }
      })
      await thaw?.finished()
    }
    const archivedNote = `(content archived: run with --yes to thaw it and see the changes)\n`
    if (ea.info.type !== 'directory' || eb.info.type !== 'directory') {
      const change = ea.info.type !== eb.info.type ? 'type-changed' : sameEntry(ea, eb) ? 'unchanged' : 'modified'
      if (this.settings.json) this.printJson({first: pa, second: pb, change})
      else if (change !== 'unchanged') process.stdout.write(withContent ? await diffFiles(sa, pa, ea, sb, pb, eb) : archivedNote)
      return
    }
    // Paths are absolute, as on the source, like locate and ls print them: the path in the
    // first tree, or in the second for what only the second has.
    const join = (base: string, rel: string) => (rel === '/' ? base : `${base === '/' ? '' : base}${rel}`)
    const stats = {files: 0, insertions: 0, deletions: 0}
    for await (const change of diffTrees(sa, pa, sb, pb)) {
      const path = change.change === 'added' ? join(pb, change.path) : join(pa, change.path)
      if (this.settings.json) {
        this.printJson({change: change.change, path, type: (change.after ?? change.before)!.info.type})
        continue
      }
      if (flags['name-only']) {
        this.print(escapeName(path))
        continue
      }
      const file = (change.after ?? change.before)!.info.type === 'file' && change.change !== 'type-changed'
      if (flags.stat) {
        if (!file) continue
        const text = withContent ? await diffFiles(sa, join(pa, change.path), change.before, sb, join(pb, change.path), change.after) : ''
        const lines = text.split('\n')
        const binary = !withContent || text.startsWith('Binary files')
        const plus = binary ? 0 : lines.filter((l) => l.startsWith('+') && !l.startsWith('+++')).length
        const minus = binary ? 0 : lines.filter((l) => l.startsWith('-') && !l.startsWith('---')).length
        stats.files++
        stats.insertions += plus
        stats.deletions += minus
        this.print(`${escapeName(path)} | ${binary ? 'binary' : `${plus + minus} ${'+'.repeat(Math.min(plus, 40))}${'-'.repeat(Math.min(minus, 40))}`}`)
        continue
      }
      const sign = {added: '+', removed: '-', modified: '~', 'type-changed': '!'}[change.change]
      this.print(`${sign} ${escapeName(path)}`)
      if (change.change === 'modified' && change.after?.info.type === 'file') {
        process.stdout.write(withContent ? await diffFiles(sa, join(pa, change.path), change.before, sb, join(pb, change.path), change.after) : archivedNote)
      }
    }
    if (flags.stat && !this.settings.json) {
      this.print(`${count(stats.files, 'file')} changed, ${count(stats.insertions, 'insertion')}(+), ${count(stats.deletions, 'deletion')}(-)`)
    }
  }
}
