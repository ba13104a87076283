import {Flags} from '@oclif/core'
import {PlakarCommand} from '../cli/base-command.js'
import {count, formatBytes} from '../cli/output.js'
import {Policies} from '../cli/policies.js'
import {describeWords, policyFromWords, retentionFlags, wordsFromFlags} from '../cli/retention-flags.js'
import {filterFromFlags, selectionFlags} from '../cli/selection-flags.js'
import {removeSnapshots} from '@plakar/engine/engine/remove.js'
import {planRetention} from '@plakar/engine/engine/retention.js'
import {filterSnapshots} from '@plakar/engine/engine/selection.js'
import {UsageError} from '@plakar/sdk'

export default class Prune extends PlakarCommand {
  static override summary = 'delete snapshots by a retention policy'
  static override description =
    'Applies retention rules (--keep-last, --keep-daily…, or a named policy) to each group of snapshots and shows what is kept and why, and what goes; with --apply, deletes what goes. Space is reclaimed later by maintenance.'
  static override examples = [
    'plakar prune --keep-last 3',
    'plakar prune --keep-daily 7 --keep-weekly 5 --keep-monthly 12 --apply',
    'plakar prune --policy standard --apply',
    'plakar prune --keep-within 30d --keep-tag keep --group-by host --host web1',
  ]
  static override flags = {
    ...retentionFlags,
    policy: Flags.string({description: 'use the rules of this named policy (plakar policy add); flags given too override its rules'}),
    apply: Flags.boolean({description: 'delete the snapshots that go (without it, only show the plan)'}),
    ...selectionFlags,
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Prune)
    const given = wordsFromFlags(flags)
    const words = flags.policy ? {...new Policies(this.settings.configDir).get(flags.policy), ...given} : given
    if (Object.keys(words).length === 0) throw new UsageError('give retention rules (--keep-last, --keep-daily, --keep-within…) or --policy NAME')
    const policy = policyFromWords(words)
    const filter = filterFromFlags(flags)
    const repo = await this.openRepository()
    const decisions = planRetention(await filterSnapshots(repo, filter), policy, (ms) => words['keep-within'] ?? `${ms}ms`)
    const going = decisions.filter((d) => !d.keep).map((d) => d.entry)
    if (flags.apply) await removeSnapshots(repo, going)
    if (this.settings.json) {
      this.printJson({
        dryRun: !flags.apply,
        policy: describeWords(words),
        keep: decisions.filter((d) => d.keep).map((d) => ({id: d.entry.id, time: new Date(d.entry.time).toISOString(), group: d.group, reasons: d.reasons})),
        remove: decisions.filter((d) => !d.keep).map((d) => ({id: d.entry.id, time: new Date(d.entry.time).toISOString(), group: d.group})),
      })
      return
    }
    let group: string | undefined
    for (const d of decisions) {
      if (d.group !== group) {
        group = d.group
        this.print(`${group}:`)
      }
      const e = d.entry
      const verb = d.keep ? 'keep  ' : flags.apply ? 'delete' : 'go    '
      const why = d.keep ? `  (${d.reasons.join(', ')})` : ''
      this.print(`  ${verb}  ${e.id.slice(0, 8)}  ${new Date(e.time).toISOString()}  ${formatBytes(e.size).padStart(10)}${why}`)
    }
    const kept = decisions.length - going.length
    if (decisions.length === 0) this.say('no snapshot matches: nothing to prune')
    else if (flags.apply) this.say(`kept ${count(kept, 'snapshot')}, deleted ${going.length}; "plakar maintenance" reclaims their space`)
    else this.say(`dry run: ${count(kept, 'snapshot')} kept, ${going.length} would be deleted; run again with --apply to delete them`)
  }
}
