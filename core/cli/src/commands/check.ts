import {Flags} from '@oclif/core'
import {PlakarCommand} from '../cli/base-command.js'
import {count, formatBytes} from '../cli/output.js'
import {allSnapshots, check, type CheckProblem, type CheckTarget} from '@plakar/engine/engine/check.js'
import {filterFromFlags, selectionFlags} from '../cli/selection-flags.js'
import {filterSnapshots, isEmptyFilter, openSnapshot, resolveTarget} from '@plakar/engine/engine/selection.js'
import {IntegrityError} from '@plakar/sdk'
import {startThaw, thawFlags, type ThawRun} from '../cli/thaw.js'
import {collectSnapshotPackfiles} from '@plakar/engine/engine/thaw.js'

export default class Check extends PlakarCommand {
  static override summary = 'verify the integrity of snapshots'
  static override description =
    'Reads back and authenticates every chunk of the snapshots (all, those the filters select, or those given as SNAPSHOT[:PATH]) and names every damaged file. Exit code 65 when anything is damaged.'
  static override strict = false
  static override examples = ['plakar check', 'plakar check --fast', 'plakar check 3f2a:/home', 'plakar check --since 7d latest']
  static override flags = {
    fast: Flags.boolean({description: 'only check that every chunk is indexed and every packfile exists'}),
    ...selectionFlags,
    ...thawFlags,
  }

  async run(): Promise<void> {
    const {flags, argv} = await this.parse(Check)
    const filter = filterFromFlags(flags)
    const repo = await this.openRepository()
    let targets: CheckTarget[]
    let unreadable: CheckProblem[] = []
    const whole = (argv as string[]).length === 0 && isEmptyFilter(filter)
    if (whole) {
      ;({targets, problems: unreadable} = await allSnapshots(repo))
    } else if ((argv as string[]).length === 0) {
      targets = []
      for (const entry of await filterSnapshots(repo, filter)) {
        const snapshot = await openSnapshot(repo, entry)
        targets.push({snapshot, path: snapshot.root})
      }
    } else {
      targets = []
      const candidates = await filterSnapshots(repo, filter)
      for (const spec of argv as string[]) {
        const {snapshot, path: resolved} = await resolveTarget(repo, spec, filter, candidates)
        await snapshot.requireEntry(resolved)
        targets.push({snapshot, path: resolved})
      }
    }
    let thaw: ThawRun | undefined
    if (!flags.fast) {
      // A cold storage: a full check reads every data packfile it verifies, so thaw them; each is
      // verified once readable (--fast reads metadata only, which is never cold).
      thaw = await startThaw({repo, logger: this.logger, json: this.settings.json, quiet: this.settings.quiet, signal: this.abort.signal}, flags, async (c) => {
        if (whole) c.addAllData()
        else for (const t of targets) await collectSnapshotPackfiles(t.snapshot, t.path, c)
      })
    }
    const display = this.progress()
    let verifying = false
    const result = await check(repo, targets, {
      fast: flags.fast,
      problems: unreadable,
      wholeRepository: whole,
      signal: this.abort.signal,
      concurrency: this.settings.concurrency,
      // A whole-repository check walks and verifies at once: once data is being verified, its
      // progress (bytes, with an ETA) is the one shown.
      onProgress: !display.active ? undefined : (p) => {
        if (p.phase === 'data') {
          // Once all data is verified, the walk (if still going) shows again.
          verifying = p.done < p.total
          display.update({label: 'check: verifying data', files: p.done, totalFiles: p.total, bytes: p.bytes ?? 0, totalBytes: p.totalBytes, unit: 'packfile'})
        } else if (!verifying) {
          display.update({label: 'check: walking snapshots', files: p.done, totalFiles: p.total || undefined, bytes: 0})
        }
      },
      onProblem: (p) => {
        if (!this.settings.json) this.logger.warn(p.message)
      },
    })
    display.stop()
    await thaw?.finished()
    if (this.settings.json) {
      this.printJson({ok: result.problems.length === 0, snapshots: result.snapshots, files: result.files, packfiles: result.packfiles, bytes: result.bytes, problems: result.problems})
    } else if (result.problems.length === 0) {
      this.say(`ok: ${count(result.snapshots, 'snapshot')}, ${count(result.files, 'file')}${flags.fast ? '' : `, ${formatBytes(result.bytes)} read and verified`}`)
    }
    if (result.problems.length > 0) {
      const damaged = result.problems.filter((p) => p.kind === 'file').length
      const what = damaged > 0 ? `${damaged} damaged files are named above` : 'see the messages above'
      throw new IntegrityError(`${count(result.problems.length, 'problem')} found in ${count(result.snapshots, 'snapshot')}: ${what}`)
    }
  }
}
