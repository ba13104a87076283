import {Flags} from '@oclif/core'
import {PlakarCommand} from '../cli/base-command.js'
import {formatBytes} from '../cli/output.js'
import {DEFAULT_GRACE_MS, DEFAULT_MAX_UNUSED, DEFAULT_REPACK_THRESHOLD, maintain} from '@plakar/engine/engine/maintenance.js'
import {parseDuration} from '@plakar/engine/engine/selection.js'
import {UsageError} from '@plakar/sdk'

export default class Maintenance extends PlakarCommand {
  static override summary = 'reclaim the space of deleted snapshots'
  static override description =
    'Marks packfiles no snapshot references, repacks sparse ones, deletes those marked longer than the grace period, and compacts the states. Runs under an exclusive lock: backups wait for it or fail.'
  static override examples = ['plakar maintenance', 'plakar maintenance --dry-run', 'plakar maintenance --grace 0', 'plakar maintenance --json --repack-threshold 30']
  static override flags = {
    grace: Flags.string({description: 'keep marked packfiles this long before deleting them (default 7d; 0 deletes at once)'}),
    'repack-threshold': Flags.integer({description: 'rewrite packfiles whose live share is below this percentage (default 50; 0 never repacks)', min: 0, max: 100}),
    'max-unused': Flags.integer({description: 'then repack the sparsest packfiles until unused space is at most this percentage of live data (default 5; 100 disables)', min: 0, max: 100}),
    'skip-compaction': Flags.boolean({description: 'leave the states as they are (by default they are compacted)'}),
    'dry-run': Flags.boolean({description: 'report what would be marked, repacked and deleted, change nothing'}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Maintenance)
    const grace = flags.grace === undefined ? DEFAULT_GRACE_MS : parseDuration(flags.grace, '--grace')
    if (grace < 0) throw new UsageError('--grace must not be negative')
    const repo = await this.openRepository()
    const display = this.progress()
    const report = await maintain(repo, {
      grace,
      repackThreshold: flags['repack-threshold'] === undefined ? DEFAULT_REPACK_THRESHOLD : flags['repack-threshold'] / 100,
      maxUnused: flags['max-unused'] === undefined ? DEFAULT_MAX_UNUSED : flags['max-unused'] / 100,
      compact: !flags['skip-compaction'],
      dryRun: flags['dry-run'],
      signal: this.abort.signal,
      onProgress: (p) => display.update({label: `maintenance: ${p.phase}`, files: p.done, totalFiles: p.total, bytes: 0, unit: p.phase === 'live set' ? 'snapshots' : p.phase === 'compaction' ? 'states' : 'packfiles'}),
    })
    display.stop()
    for (const r of report.retained) this.logger.warn(`packfile ${r.packfile.slice(0, 16)} was kept: the storage refuses to delete it (${r.reason})`)
    if (this.settings.json) {
      const {retainedUntil, ...rest} = report
      this.printJson(retainedUntil === undefined ? rest : {...rest, retainedUntil: new Date(retainedUntil).toISOString()})
      return
    }
    const would = report.dryRun ? 'would be ' : ''
    this.print(`snapshots   ${report.snapshots} live, referencing ${report.liveBlobs} blobs in ${report.packfiles} packfiles`)
    if (report.unmarked > 0) this.print(`unmarked    ${report.unmarked} packfiles (a snapshot uses them again)`)
    this.print(`marked      ${report.marked} packfiles ${would}marked for deletion (${formatBytes(report.markedBytes)})`)
    this.print(`repacked    ${report.repacked} packfiles ${would}rewritten: ${formatBytes(report.repackedBytes)} of live blobs copied into ${report.newPackfiles} new packfiles`)
    this.print(`deleted     ${report.deleted} packfiles ${would}deleted: ${formatBytes(report.freedBytes)} ${report.dryRun ? 'would come' : 'came'} back`)
    if (report.waiting > 0) this.print(`waiting     ${report.waiting} marked packfiles (${formatBytes(report.waitingBytes)}) are kept until their grace period ends`)
    if (report.retained.length > 0) this.print(`retained    ${report.retained.length} packfiles the storage refuses to delete yet (object lock)`)
    this.print(`states      ${report.statesBefore} -> ${report.statesAfter}`)
    if (report.retainedUntil !== undefined) {
      this.print(`locked      ${report.retentionExtended} live packfiles and states retained until ${new Date(report.retainedUntil).toISOString()} (object lock)`)
    }
  }
}
