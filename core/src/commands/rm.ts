import {Args, Flags} from '@oclif/core'
import {hostname} from 'node:os'
import {PlakarCommand} from '../cli/base-command.js'
import {emptyDelta} from '../format/state.js'
import {UsageError} from '../errors.js'

export default class Rm extends PlakarCommand {
  static override summary = 'delete snapshots'
  static override description =
    'Records the deletion of snapshots, given by id or selected by --before and --tag. Their data is reclaimed later by maintenance.'
  static override strict = false
  static override examples = ['plakar rm 3f2a', 'plakar rm --tag test', 'plakar rm --before 2026-01-01 --tag daily']
  static override args = {snapshot: Args.string({description: 'snapshot id (prefix); repeatable'})}
  static override flags = {
    before: Flags.string({description: 'snapshots taken before this date (YYYY-MM-DD or ISO time)'}),
    tag: Flags.string({description: 'snapshots with this tag'}),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Rm)
    const ids = argv as string[]
    if (ids.length === 0 && !flags.before && !flags.tag) throw new UsageError('name snapshots to delete, or select them with --before or --tag')
    let before: number | undefined
    if (flags.before) {
      before = Date.parse(flags.before)
      if (Number.isNaN(before)) throw new UsageError(`--before: "${flags.before}" is not a date`)
    }
    const repo = await this.openRepository()
    // Ids and filters combine: with both, only the named snapshots that match the filters go.
    const candidates = ids.length > 0 ? await Promise.all(ids.map((id) => repo.findSnapshot(id))) : await repo.snapshots()
    const chosen = new Map<string, Buffer>()
    for (const h of candidates) {
      if (before !== undefined && h.time >= before) continue
      if (flags.tag && !h.tags.includes(flags.tag)) continue
      chosen.set(Buffer.from(h.id).toString('hex'), Buffer.from(h.id))
    }
    if (chosen.size > 0) {
      const delta = emptyDelta(hostname())
      delta.deletedSnapshots = [...chosen.values()].map((id) => ({id, time: Date.now()}))
      await repo.writeState(delta)
    }
    if (this.settings.json) this.printJson({deleted: [...chosen.keys()]})
    else for (const id of chosen.keys()) this.say(`deleted snapshot ${id.slice(0, 8)}`)
  }
}
