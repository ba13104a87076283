import {Args, Flags} from '@oclif/core'
import {PlakarCommand} from '../cli/base-command.js'
import {count} from '../cli/output.js'
import {filterFromFlags, selectionFlags} from '../cli/selection-flags.js'
import {isEmptyFilter, selectSnapshots} from '@plakar/engine/engine/selection.js'
import {applyTags, planTags} from '@plakar/engine/engine/tags.js'
import {UsageError} from '@plakar/sdk'

export default class Tag extends PlakarCommand {
  static override summary = 'change the tags of snapshots'
  static override description =
    'Adds, removes or replaces the tags of the snapshots the ids and filters select. The change is recorded as an event in the repository; the snapshots themselves are not rewritten.'
  static override strict = false
  static override examples = [
    'plakar tag --add keep 3f2a',
    'plakar tag --remove daily --add monthly latest',
    'plakar tag --set archive --host old-laptop',
  ]
  static override args = {snapshot: Args.string({description: 'snapshot: an id prefix, latest or latest~N; repeatable'})}
  static override flags = {
    add: Flags.string({description: 'add this tag (repeatable)', multiple: true, multipleNonGreedy: true}),
    remove: Flags.string({description: 'remove this tag (repeatable)', multiple: true, multipleNonGreedy: true}),
    set: Flags.string({description: 'replace all tags with this one (repeatable; applied before --add and --remove)', multiple: true, multipleNonGreedy: true}),
    clear: Flags.boolean({description: 'remove every tag (applied before --add)'}),
    ...selectionFlags,
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Tag)
    const refs = argv as string[]
    const filter = filterFromFlags(flags)
    if (!flags.add && !flags.remove && !flags.set && !flags.clear) throw new UsageError('say what to change: --add, --remove, --set or --clear')
    if (flags.set && flags.clear) throw new UsageError('--set and --clear cannot be combined: --set already replaces every tag')
    if (refs.length === 0 && isEmptyFilter(filter)) throw new UsageError('name the snapshots to tag, or select them with filters (--tag, --host, --since…)')
    const repo = await this.openRepository()
    const chosen = await selectSnapshots(repo, refs, filter)
    const plans = planTags(chosen, {set: flags.clear ? [] : flags.set, add: flags.add, remove: flags.remove})
    await applyTags(repo, plans)
    if (this.settings.json) {
      this.printJson({changed: plans.map((p) => ({id: p.id, before: p.before, after: p.after})), unchanged: chosen.length - plans.length})
      return
    }
    for (const p of plans) this.print(`${p.id.slice(0, 8)}  [${p.before.join(',')}] -> [${p.after.join(',')}]`)
    this.say(`changed the tags of ${count(plans.length, 'snapshot')}${chosen.length > plans.length ? ` (${chosen.length - plans.length} already had them)` : ''}`)
  }
}
