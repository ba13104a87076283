import {createHash} from 'node:crypto'
import {createReadStream} from 'node:fs'
import {mkdir, rm, stat} from 'node:fs/promises'
import {basename, join} from 'node:path'
import type {Readable} from 'node:stream'
import {PlakarError, UsageError, type Importer, type Logger} from '@plakar/sdk'
import type {Repository} from '@plakar/engine/repository/repository.js'
import type {Entry} from '@plakar/engine/tree/entry.js'
import type {TaskHost} from './interfaces/task-host.js'
import type {BackupTask, CheckTask, MaintenanceTask, PruneTask, RestoreTestTask, SyncTask, Task} from './task-file.js'

/** What a run produced: the snapshot it made (backups), and what it did, for the history. */
export interface TaskOutcome {
  snapshot?: string
  details: Record<string, unknown>
  /** Set when the task ran to its end but found something wrong (errors reading files, damage). */
  failure?: string
}

export interface RunContext {
  host: TaskHost
  logger: Logger
  signal: AbortSignal
  /** A private scratch directory of this run (restore tests restore into it). */
  scratchDir: string
}

/** Runs one task by calling the engine, as the matching command does. */
export async function runTask(task: Task, ctx: RunContext): Promise<TaskOutcome> {
  const repo = await ctx.host.openRepository(task.repository, {keyfile: task.keyfile, logger: ctx.logger})
  try {
    switch (task.kind) {
      case 'backup':
        return await runBackup(task, repo, ctx)
      case 'check':
        return await runCheck(task, repo, ctx)
      case 'restore-test':
        return await runRestoreTest(task, repo, ctx)
      case 'sync':
        return await runSync(task, repo, ctx)
      case 'prune':
        return await runPrune(task, repo, ctx)
      case 'maintenance':
        return await runMaintenance(task, repo, ctx)
    }
  } finally {
    await repo.close().catch(() => {})
  }
}

async function runBackup(task: BackupTask, repo: Repository, ctx: RunContext): Promise<TaskOutcome> {
  const {backup} = await import('@plakar/engine/engine/backup.js')
  const {excluder, ignorePatterns} = await import('@plakar/engine/engine/exclude.js')
  const importers: Importer[] = []
  try {
    for (const source of task.sources) importers.push(await ctx.host.importer(source, task.options, ctx.logger))
    const patterns = ignorePatterns(task.excludes, [])
    const skipByRoot = importers.map((i) => excluder(i.root, patterns, [ctx.host.cacheDir]))
    const result = await backup(repo, importers, {
      tags: task.tags,
      name: task.snapshotName,
      skip: (path, isDir) => skipByRoot.some((skip) => skip(path, isDir)),
      command: ctx.host.command,
      concurrency: ctx.host.concurrency,
      signal: ctx.signal,
      tmpDir: ctx.host.cacheDir,
      onError: (e) => ctx.logger.warn(`${e.path}: ${e.error}`),
    })
    // A WORM storage: the new snapshot reuses older packfiles; keep them locked as long as its own.
    const {extendLiveRetention} = await import('@plakar/engine/engine/worm.js')
    await extendLiveRetention(repo, {signal: ctx.signal})
    const s = result.snapshot!
    const errors = result.progress.errors
    return {
      snapshot: result.id,
      details: {files: s.summary.files, directories: s.summary.directories, size: s.summary.size, addedBytes: s.stats.addedBytes, errors},
      failure: errors > 0 ? `${errors} file${errors === 1 ? '' : 's'} could not be read (see the log); the snapshot holds the rest` : undefined,
    }
  } finally {
    for (const importer of importers) await importer.close().catch(() => {})
  }
}

async function runCheck(task: CheckTask, repo: Repository, ctx: RunContext): Promise<TaskOutcome> {
  const {allSnapshots, check} = await import('@plakar/engine/engine/check.js')
  const {targets, problems} = await allSnapshots(repo)
  const result = await check(repo, targets, {fast: task.fast, problems, wholeRepository: true, concurrency: ctx.host.concurrency, onProblem: (p) => ctx.logger.warn(p.message)})
  const details = {ok: result.problems.length === 0, snapshots: result.snapshots, files: result.files, packfiles: result.packfiles, bytes: result.bytes}
  return {details, failure: result.problems.length > 0 ? `${result.problems.length} problems found (see the log): run "plakar check" for details` : undefined}
}

/**
 * Restores a random sample of the latest snapshot's files into a scratch directory and compares
 * each with what the snapshot holds (read on a second path) and, when the source file is still
 * the one the backup read (sourceUnchanged), with the source itself: a restore that "works" but
 * writes wrong bytes is caught.
 */
async function runRestoreTest(task: RestoreTestTask, repo: Repository, ctx: RunContext): Promise<TaskOutcome> {
  const {listSnapshots, openSnapshot} = await import('@plakar/engine/engine/selection.js')
  const {restore} = await import('@plakar/engine/engine/restore.js')
  const {racyFrom} = await import('@plakar/engine/engine/backup.js')
  const entries = await listSnapshots(repo)
  if (entries.length === 0) throw new UsageError('the repository has no snapshot to test a restore of')
  const latest = entries.reduce((a, b) => (b.time > a.time ? b : a))
  const snapshot = await openSnapshot(repo, latest)
  // Reservoir sampling: a uniform sample in one walk, memory bounded by the sample size.
  const sample: [string, Entry][] = []
  let seen = 0
  for await (const [path, entry] of snapshot.walk(snapshot.root)) {
    if (entry.info.type !== 'file' || entry.error) continue
    seen++
    if (sample.length < task.sample) sample.push([path, entry])
    else {
      const j = Math.floor(Math.random() * seen)
      if (j < task.sample) sample[j] = [path, entry]
    }
    if (ctx.signal.aborted) throw ctx.signal.reason
  }
  const dir = join(ctx.scratchDir, 'restore-test')
  await rm(dir, {recursive: true, force: true})
  let compared = 0
  let againstSource = 0
  let bytes = 0
  const mismatches: string[] = []
  try {
    for (const [i, [path, entry]] of sample.entries()) {
      const target = join(dir, String(i))
      await mkdir(target, {recursive: true})
      const exporter = await ctx.host.exporter(target, ctx.logger)
      try {
        const result = await restore(snapshot, path, exporter, {signal: ctx.signal, onError: (p, e) => ctx.logger.warn(`${p}: ${e}`)})
        if (result.errors > 0) {
          mismatches.push(`${path}: could not be restored`)
          continue
        }
      } finally {
        await exporter.close().catch(() => {})
      }
      const restored = join(target, basename(path))
      const restoredHash = await sha256(createReadStream(restored))
      const storedHash = await sha256(await snapshot.open(entry))
      compared++
      bytes += entry.info.size
      if (restoredHash !== storedHash) {
        mismatches.push(`${path}: the restored file differs from the snapshot`)
        continue
      }
      if (latest.importer.type === 'fs' && (await sourceUnchanged(path, entry, racyFrom(snapshot.header.time)))) {
        againstSource++
        if ((await sha256(createReadStream(path))) !== restoredHash) mismatches.push(`${path}: the restored file differs from the unchanged source file`)
      }
    }
  } finally {
    await rm(dir, {recursive: true, force: true})
  }
  for (const m of mismatches) ctx.logger.warn(m)
  return {
    snapshot: latest.id,
    details: {files: seen, sampled: sample.length, compared, againstSource, bytes, mismatches: mismatches.length},
    failure: mismatches.length > 0 ? `${mismatches.length} of ${sample.length} sampled files did not restore identically (see the log)` : undefined,
  }
}

/**
 * Whether the source file still is the one the snapshot read: same size, mtime and ctime, and
 * not modified in the tick the backup read it (racyFrom): a file changed then keeps its times,
 * and comparing it would report a restore fault that is not one.
 */
async function sourceUnchanged(path: string, entry: Entry, racyFrom: number): Promise<boolean> {
  const {size, mtime, ctime} = entry.info
  if (mtime === undefined || mtime >= racyFrom) return false
  try {
    const s = await stat(path)
    return s.isFile() && s.size === size && Math.abs(s.mtimeMs - mtime) < 1 && (ctime === undefined || Math.abs(s.ctimeMs - ctime) < 1)
  } catch {
    return false
  }
}

function sha256(stream: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256')
    stream.on('data', (chunk: Buffer) => hash.update(chunk))
    stream.on('error', reject)
    stream.on('end', () => resolve(hash.digest('hex')))
  })
}

async function runSync(task: SyncTask, repo: Repository, ctx: RunContext): Promise<TaskOutcome> {
  const {planSync, runSync: sync} = await import('@plakar/engine/engine/sync.js')
  const {selectSnapshots} = await import('@plakar/engine/engine/selection.js')
  const peer = await ctx.host.openRepository(task.peer, {keyfile: task.peerKeyfile ?? task.keyfile, storageOptions: task.peerOptions, logger: ctx.logger})
  try {
    if (peer.id === repo.id) throw new UsageError(`${ctx.host.redact(task.peer)} is the task's own repository: sync needs two repositories`)
    const pairs: [Repository, Repository][] = []
    if (task.direction !== 'from') pairs.push([repo, peer])
    if (task.direction !== 'to') pairs.push([peer, repo])
    // Every plan is made before anything moves: "with" does not copy back what it just copied.
    const plans = []
    for (const [from, to] of pairs) plans.push({from, to, plan: planSync(from, to, await selectSnapshots(from, []))})
    let copied = 0
    let moved = 0
    for (const {from, to, plan} of plans) {
      const results = await sync(from, to, plan, {signal: ctx.signal, concurrency: ctx.host.concurrency, tmpDir: ctx.host.cacheDir, onWarning: (m) => ctx.logger.warn(m)})
      copied += results.length
      moved += results.reduce((n, r) => n + r.moved, 0)
    }
    return {details: {direction: task.direction, location: ctx.host.redact(task.peer), snapshots: copied, bytes: moved}}
  } finally {
    await peer.close().catch(() => {})
  }
}

async function runPrune(task: PruneTask, repo: Repository, ctx: RunContext): Promise<TaskOutcome> {
  const {listSnapshots} = await import('@plakar/engine/engine/selection.js')
  const {planRetention} = await import('@plakar/engine/engine/retention.js')
  const {removeSnapshots} = await import('@plakar/engine/engine/remove.js')
  const policy = ctx.host.policy(task.policy)
  const decisions = planRetention(await listSnapshots(repo), policy)
  const going = decisions.filter((d) => !d.keep).map((d) => d.entry)
  if (ctx.signal.aborted) throw ctx.signal.reason
  await removeSnapshots(repo, going)
  for (const e of going) ctx.logger.info(`pruned snapshot ${e.id.slice(0, 8)} of ${new Date(e.time).toISOString()}`)
  return {details: {policy: task.policy, kept: decisions.length - going.length, pruned: going.length}}
}

async function runMaintenance(task: MaintenanceTask, repo: Repository, ctx: RunContext): Promise<TaskOutcome> {
  const {DEFAULT_GRACE_MS, DEFAULT_MAX_UNUSED, DEFAULT_REPACK_THRESHOLD, maintain} = await import('@plakar/engine/engine/maintenance.js')
  const report = await maintain(repo, {
    grace: task.graceMs ?? DEFAULT_GRACE_MS,
    repackThreshold: DEFAULT_REPACK_THRESHOLD,
    maxUnused: DEFAULT_MAX_UNUSED,
    compact: true,
    signal: ctx.signal,
  })
  for (const r of report.retained) ctx.logger.warn(`packfile ${r.packfile.slice(0, 16)} was kept: the storage refuses to delete it (${r.reason})`)
  return {
    details: {marked: report.marked, repacked: report.repacked, deleted: report.deleted, freedBytes: report.freedBytes, waiting: report.waiting, statesBefore: report.statesBefore, statesAfter: report.statesAfter},
  }
}

/** A task's failure as one line, whatever was thrown. */
export function failureMessage(error: unknown): string {
  if (error instanceof PlakarError || (error as {plakarExitCode?: unknown})?.plakarExitCode !== undefined) return (error as Error).message.split('\n')[0]
  if ((error as Error)?.name === 'AbortError') return 'stopped'
  const e = error as Error & {code?: string}
  return `${e?.code ? `${e.code}: ` : ''}${String(e?.message ?? error).split('\n')[0]}`
}
