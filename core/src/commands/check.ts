import {Flags} from '@oclif/core'
import {PlakarCommand} from '../cli/base-command.js'
import {formatBytes} from '../cli/output.js'
import {allSnapshots, check, type CheckProblem, type CheckTarget} from '../engine/check.js'
import {loadSnapshot, parseSnapshotPath} from '../engine/snapshot.js'
import {IntegrityError} from '../errors.js'

export default class Check extends PlakarCommand {
  static override summary = 'verify the integrity of snapshots'
  static override description =
    'Reads back and authenticates every chunk of the snapshots (all, or those given as ID[:PATH]) and names every damaged file. Exit code 65 when anything is damaged.'
  static override strict = false
  static override examples = ['plakar check', 'plakar check --fast', 'plakar check 3f2a:/home']
  static override flags = {
    fast: Flags.boolean({description: 'only check that every chunk is indexed and every packfile exists'}),
  }

  async run(): Promise<void> {
    const {flags, argv} = await this.parse(Check)
    const repo = await this.openRepository()
    let targets: CheckTarget[]
    let unreadable: CheckProblem[] = []
    if ((argv as string[]).length === 0) {
      ;({targets, problems: unreadable} = await allSnapshots(repo))
    } else {
      targets = []
      for (const spec of argv as string[]) {
        const {id, path} = parseSnapshotPath(spec)
        const snapshot = await loadSnapshot(repo, id)
        const resolved = snapshot.resolve(path)
        await snapshot.requireEntry(resolved)
        targets.push({snapshot, path: resolved})
      }
    }
    const display = this.progress()
    let verifying = false
    const result = await check(repo, targets, {
      fast: flags.fast,
      problems: unreadable,
      wholeRepository: (argv as string[]).length === 0,
      concurrency: this.settings.concurrency,
      // A whole-repository check walks and verifies at once: once data is being verified, its
      // progress (bytes, with an ETA) is the one shown.
      onProgress: (p) => {
        if (p.phase === 'data') {
          // Once all data is verified, the walk (if still going) shows again.
          verifying = p.done < p.total
          display.update({label: 'check: verifying data', files: p.done, totalFiles: p.total, bytes: p.bytes ?? 0, totalBytes: p.totalBytes, unit: 'packfiles'})
        } else if (!verifying) {
          display.update({label: 'check: walking snapshots', files: p.done, totalFiles: p.total || undefined, bytes: 0})
        }
      },
      onProblem: (p) => {
        if (!this.settings.json) this.logger.warn(p.message)
      },
    })
    display.stop()
    if (this.settings.json) {
      this.printJson({ok: result.problems.length === 0, snapshots: result.snapshots, files: result.files, packfiles: result.packfiles, bytes: result.bytes, problems: result.problems})
    } else if (result.problems.length === 0) {
      this.say(`ok: ${result.snapshots} snapshots, ${result.files} files${flags.fast ? '' : `, ${formatBytes(result.bytes)} read and verified`}`)
    }
    if (result.problems.length > 0) {
      const damaged = result.problems.filter((p) => p.kind === 'file').length
      const what = damaged > 0 ? `${damaged} damaged files are named above` : 'see the messages above'
      throw new IntegrityError(`${result.problems.length} problems found in ${result.snapshots} snapshots: ${what}`)
    }
  }
}
