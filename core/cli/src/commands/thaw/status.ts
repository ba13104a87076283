import {Args} from '@oclif/core'
import {PlakarCommand} from '../../cli/base-command.js'
import {formatBytes} from '../../cli/output.js'
import {filterFromFlags, selectionFlags} from '../../cli/selection-flags.js'
import {resolveTarget} from '@plakar/engine/engine/selection.js'
import {coldStorageOf, collectSnapshotPackfiles, PackfileCollector} from '@plakar/engine/engine/thaw.js'
import {mapConcurrent, UsageError, type ThawState} from '@plakar/sdk'

export default class ThawStatus extends PlakarCommand {
  static override summary = 'show where thaws of archived data stand (cold storages)'
  static override description =
    'On a cold storage (glacier), tells for the data packfiles of SNAPSHOT[:PATH] — or of the whole repository without one — how many are archived, being thawed, thawed (and until when) or never archived. Asks the storage only (HEAD requests): nothing is thawed or read.'
  static override examples = ['plakar at @vault thaw status', 'plakar at @vault thaw status 3f2a:/home/me/photos', 'plakar at @vault thaw status --json latest']
  static override args = {snapshot: Args.string({description: 'SNAPSHOT[:PATH] whose data to look at (default: every data packfile)'})}
  static override flags = {...selectionFlags}

  async run(): Promise<void> {
    const {args, flags} = await this.parse(ThawStatus)
    const repo = await this.openRepository()
    const storage = coldStorageOf(repo)
    if (!storage) throw new UsageError(`${repo.storage.location} is not a cold storage: its data is always readable`)
    const collector = new PackfileCollector(repo)
    if (args.snapshot === undefined) collector.addAllData()
    else {
      const {snapshot, path} = await resolveTarget(repo, args.snapshot, filterFromFlags(flags))
      await snapshot.requireEntry(path)
      await collectSnapshotPackfiles(snapshot, path, collector)
    }
    const counts: Record<ThawState, {packfiles: number; bytes: number}> = {
      archived: {packfiles: 0, bytes: 0},
      'in-progress': {packfiles: 0, bytes: 0},
      available: {packfiles: 0, bytes: 0},
      hot: {packfiles: 0, bytes: 0},
    }
    let firstExpiry: number | undefined
    await mapConcurrent([...collector.packfiles], Math.min(this.settings.concurrency, 16), async ([id, bytes]) => {
      const status = await storage.restoreStatus('packfile', id)
      counts[status.state].packfiles++
      counts[status.state].bytes += bytes
      if (status.expires !== undefined && (firstExpiry === undefined || status.expires < firstExpiry)) firstExpiry = status.expires
    })
    if (this.settings.json) {
      // The words of the human table, not the storage contract's state names (`in-progress`
      // is no JSON name, and `hot` means nothing to someone reading a thaw).
      this.printJson({
        packfiles: collector.packfiles.size,
        archived: counts.archived,
        thawing: counts['in-progress'],
        thawed: counts.available,
        notArchived: counts.hot,
        firstExpiry: firstExpiry === undefined ? null : new Date(firstExpiry).toISOString(),
      })
      return
    }
    const line = (label: string, c: {packfiles: number; bytes: number}, extra = '') => this.print(`${label.padEnd(12)} ${String(c.packfiles).padStart(7)} packfiles  ${formatBytes(c.bytes).padStart(10)}${extra}`)
    line('archived', counts.archived)
    line('thawing', counts['in-progress'])
    line('thawed', counts.available, firstExpiry === undefined ? '' : `  (first copy expires ${new Date(firstExpiry).toISOString().replace(/\.\d+Z$/, 'Z')})`)
    line('not archived', counts.hot)
  }
}
