import {Args, Flags} from '@oclif/core'
import {PlakarCommand} from '../cli/base-command.js'
import {formatBytes} from '../cli/output.js'
import {filterFromFlags, selectionFlags} from '../cli/selection-flags.js'
import {redactLocation} from '../connectors/location.js'
import {parseOptions} from '../connectors/resolver.js'
import {selectSnapshots, type SnapshotEntry, type SnapshotFilter} from '@plakar/engine/engine/selection.js'
import {startThaw, thawFlags, type ThawRun} from '../cli/thaw.js'
import type {SnapshotSyncResult, SyncPlan} from '@plakar/engine/engine/sync.js'
import {NotFoundError, UsageError} from '@plakar/sdk'
import type {Repository} from '@plakar/engine/repository/repository.js'

const DIRECTIONS = ['to', 'from', 'with'] as const
type Direction = (typeof DIRECTIONS)[number]

export default class Sync extends PlakarCommand {
  static override summary = 'copy snapshots to, from or between another repository'
  static override description =
    'Copies the selected snapshots (default: all) that the other repository lacks, moving only the data it lacks; "with" syncs both ways.'
  static override strict = false
  static override examples = [
    'plakar at /var/backups sync to sftp://backup@offsite/plakar',
    'plakar at /var/backups sync --since 7d to @offsite',
    'plakar at /var/backups sync 3f2a latest from s3://backup.example.com/repo',
    'plakar at /var/backups sync --dry-run with sqlite:/mnt/usb/backups.db',
  ]
  static override args = {snapshots: Args.string({description: 'SNAPSHOT… to|from|with LOCATION: snapshots (id prefix, latest, latest~N) then the direction and the other repository'})}
  static override flags = {
    'dry-run': Flags.boolean({description: 'print what would be copied and how many bytes would move, copy nothing'}),
    'peer-keyfile': Flags.string({description: 'read the passphrase of the other repository from this file'}),
    'peer-option': Flags.string({description: "an option key=value of the other repository's storage (repeatable)", multiple: true, multipleNonGreedy: true}),
    ...selectionFlags,
    ...thawFlags,
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Sync)
    const words = argv as string[]
    const at = words.findLastIndex((w) => (DIRECTIONS as readonly string[]).includes(w))
    if (at < 0 || at !== words.length - 2) throw new UsageError('write "plakar sync [SNAPSHOT…] to|from|with LOCATION"')
    const direction = words[at] as Direction
    const location = words[at + 1]
    const refs = words.slice(0, at)
    const filter = filterFromFlags(flags)
    const here = await this.openRepository()
    const there = await this.openRepository(location, {options: parseOptions(flags['peer-option'] ?? []), keyfile: flags['peer-keyfile']})
    if (here.id === there.id) throw new UsageError(`${redactLocation(location)} is this repository: sync needs two repositories`)
    const hereName = redactLocation(here.storage.location)
    const thereName = redactLocation(there.storage.location)

    const {collectSyncPackfiles, planSync, runSync} = await import('@plakar/engine/engine/sync.js')
    const pairs: {from: Repository; to: Repository; fromName: string; toName: string}[] = []
    if (direction !== 'from') pairs.push({from: here, to: there, fromName: hereName, toName: thereName})
    if (direction !== 'to') pairs.push({from: there, to: here, fromName: thereName, toName: hereName})
    // Every plan is made before anything moves: "with" does not copy back what it just copied.
    const plans: {pair: (typeof pairs)[number]; plan: SyncPlan}[] = []
    for (const pair of pairs) plans.push({pair, plan: planSync(pair.from, pair.to, await this.#select(pair.from, refs, filter, direction === 'with'))})
    if (direction === 'with' && refs.length > 0) await this.#requireFound(plans.map((p) => p.pair.from), refs, filter)

    const display = this.progress()
    const report: Record<string, unknown>[] = []
    let bytesMoved = 0
    let bytesSaved = 0
    let copied = 0
    for (const {pair, plan} of plans) {
      const label = `sync ${pair.fromName} → ${pair.toName}`
      if (!this.settings.json) {
        const what = plan.mode === 'copy' ? 'peers: sealed data is copied as it is' : 'not peers: content is decoded and re-encoded for the target'
        this.say(`${label}: ${plan.missing.length} snapshots to copy, ${plan.present.length} already there${plan.deletedThere.length > 0 ? `, ${plan.deletedThere.length} deleted there (left out)` : ''} (${what})`)
      }
      let thaw: ThawRun | undefined
      if (!flags['dry-run'] && plan.missing.length > 0) {
        // A cold source: thaw the data the sync reads, and only that (planning reads metadata
        // only); packfiles are copied as they become readable.
        const context = {repo: pair.from, logger: this.logger, json: this.settings.json, quiet: this.settings.quiet, signal: this.abort.signal}
        thaw = await startThaw(context, flags, (c) => collectSyncPackfiles(pair.from, pair.to, plan, c))
      }
      let base = 0
      let baseSaved = 0
      const results = await runSync(pair.from, pair.to, plan, {
        dryRun: flags['dry-run'],
        signal: this.abort.signal,
        concurrency: this.settings.concurrency,
        tmpDir: this.settings.cacheDir,
        onWarning: (m) => this.logger.warn(m),
        onProgress: (p) =>
          display.update({label, files: copied, unit: 'snapshot', totalFiles: plan.missing.length, bytes: base + p.moved, totalBytes: base + p.toMove, saved: baseSaved + p.saved}),
        onSnapshot: (r) => {
          base += r.moved
          baseSaved += r.saved
          if (!r.dryRun) copied++
          if (!this.settings.json) this.#sayResult(r, plan)
        },
      })
      await thaw?.finished()
      for (const r of results) {
        bytesMoved += r.dryRun ? r.toMove : r.moved
        bytesSaved += r.saved
      }
      // Named as in docs/json.md (one vocabulary): amounts of bytes end in Bytes; `mode` is an
      // entry's permission bits elsewhere, so how the data moves is `method`.
      report.push({
        sender: pair.fromName,
        receiver: pair.toName,
        method: plan.mode,
        present: plan.present.map((e) => e.id),
        deletedThere: plan.deletedThere.map((e) => e.id),
        copies: results.map((r) => ({
          id: r.id,
          method: r.mode,
          addedBlobs: r.blobs,
          toMoveBytes: r.toMove,
          movedBytes: r.moved,
          savedBytes: r.saved,
          packfiles: r.packfiles,
          adoptedPackfiles: r.adopted,
          dryRun: r.dryRun,
        })),
      })
    }
    display.stop()
    const dryRun = !!flags['dry-run']
    if (this.settings.json) {
      this.printJson({dryRun, movedBytes: dryRun ? 0 : bytesMoved, toMoveBytes: dryRun ? bytesMoved : undefined, savedBytes: bytesSaved, directions: report})
    } else {
      this.say(
        dryRun
          ? `dry run: ${formatBytes(bytesMoved)} would move, ${formatBytes(bytesSaved)} already there; nothing was copied`
          : `synced ${copied} snapshots: ${formatBytes(bytesMoved)} moved, ${formatBytes(bytesSaved)} already there`,
      )
    }
  }

  #sayResult(r: SnapshotSyncResult, plan: SyncPlan): void {
    const entry = plan.missing.find((e) => e.id === r.id)
    const what = entry ? `${new Date(entry.time).toISOString()} ${entry.importer.type}:${entry.importer.root}` : ''
    if (r.dryRun) {
      const amount = r.mode === 'copy' ? `${formatBytes(r.toMove)} to move, ${formatBytes(r.saved)} already there` : `${formatBytes(r.toMove)} of content to read and re-encode`
      this.print(`would copy ${r.id.slice(0, 8)} ${what}: ${amount}`)
    } else {
      const whole = r.packfiles + r.adopted > 0 ? `, ${r.packfiles} packfiles copied whole${r.adopted > 0 ? `, ${r.adopted} found from an interrupted run` : ''}` : ''
      this.print(`copied ${r.id.slice(0, 8)} ${what}: ${formatBytes(r.moved)} moved, ${formatBytes(r.saved)} already there${whole}`)
    }
  }

  /** The selection on one side; with "with", a reference may name a snapshot of the other side only. */
  async #select(repo: Repository, refs: string[], filter: SnapshotFilter, lenient: boolean): Promise<SnapshotEntry[]> {
    if (!lenient || refs.length === 0) return selectSnapshots(repo, refs, filter)
    const found: SnapshotEntry[] = []
    for (const ref of refs) {
      try {
        found.push(...(await selectSnapshots(repo, [ref], filter)))
      } catch (error) {
        if (!(error instanceof NotFoundError)) throw error
      }
    }
    const ids = new Set(found.map((e) => e.id))
    return (await selectSnapshots(repo, [], filter)).filter((e) => ids.has(e.id))
  }

  /** With "with", every reference must name a snapshot on at least one side. */
  async #requireFound(repos: Repository[], refs: string[], filter: SnapshotFilter): Promise<void> {
    for (const ref of refs) {
      let found = false
      for (const repo of repos) {
        try {
          await selectSnapshots(repo, [ref], filter)
          found = true
        } catch (error) {
          if (!(error instanceof NotFoundError)) throw error
        }
      }
      if (!found) await selectSnapshots(repos[0], [ref], filter)
    }
  }
}
