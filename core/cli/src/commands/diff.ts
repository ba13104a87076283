import {Args} from '@oclif/core'
import {filterFromFlags, selectionFlags} from '../cli/selection-flags.js'
import {filterSnapshots, resolveTarget} from '@plakar/engine/engine/selection.js'
import {PlakarCommand} from '../cli/base-command.js'
import {diffFiles, diffTrees, sameEntry} from '@plakar/engine/engine/diff.js'
import {thawBeforeReading, thawFlags} from '../cli/thaw.js'
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
  static override flags = {...selectionFlags, ...thawFlags}

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
      const context = {repo, logger: this.logger, json: this.settings.json, quiet: this.settings.quiet, signal: this.abort.signal, progress: () => this.progress()}
      await thawBeforeReading(context, flags, async (c) => {
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
    }
    const archivedNote = `(content archived: run with --yes to thaw it and see the changes)\n`
    if (ea.info.type !== 'directory' || eb.info.type !== 'directory') {
      const change = ea.info.type !== eb.info.type ? 'type-changed' : sameEntry(ea, eb) ? 'unchanged' : 'modified'
      if (this.settings.json) this.printJson({first: pa, second: pb, change})
      else if (change !== 'unchanged') process.stdout.write(withContent ? await diffFiles(sa, pa, ea, sb, pb, eb) : archivedNote)
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
        process.stdout.write(withContent ? await diffFiles(sa, join(pa, change.path), change.before, sb, join(pb, change.path), change.after) : archivedNote)
      }
    }
  }
}
