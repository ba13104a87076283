import {mapConcurrent, NotFoundError, UsageError} from '@plakar/sdk'
import {infoOf, type SnapshotInfo} from '../format/snapshot.js'
import type {Repository} from '../repository/repository.js'
import {Snapshot} from './snapshot.js'

/**
 * Snapshot selection: the one vocabulary every command uses to name snapshots.
 *
 * - A reference names one snapshot: `latest` (the newest), `latest~N` (the Nth before it), or a
 *   unique prefix of its hexadecimal id. `REF:PATH` names a path inside it; an empty REF
 *   (`:PATH`) means `latest`.
 * - A filter narrows the set: `since`/`before` (time), `tags` (all of them), `hosts`, `paths`,
 *   `names` (any of each). Filters combine (a snapshot must pass every one), and references are
 *   resolved among the snapshots the filters keep: `latest --host a` is host a's newest.
 *
 * Listing reads the selection fields from the local cache (states carry them, see
 * SnapshotInfo); only snapshots named by states older than that field cost a header read.
 */
export interface SnapshotFilter {
  /** ms since the epoch: snapshots taken at or after. */
  since?: number
  /** ms since the epoch: snapshots taken strictly before. */
  before?: number
  /** Every one of these tags. */
  tags?: string[]
  /** Any of these hosts. */
  hosts?: string[]
  /** Any of these paths: the snapshot's root is the path or below it. */
  paths?: string[]
  /** Any of these names. */
  names?: string[]
}

/** A live snapshot as selection sees it: its id, time and info, with edited tags applied. */
export interface SnapshotEntry extends SnapshotInfo {
  /** Hexadecimal id. */
  id: string
  time: number
  /** The raw id and the MAC of its header, to open it. */
  ref: {id: Buffer; header: Buffer}
}

export function isEmptyFilter(filter: SnapshotFilter): boolean {
  return (
    filter.since === undefined &&
    filter.before === undefined &&
    !filter.tags?.length &&
    !filter.hosts?.length &&
    !filter.paths?.length &&
    !filter.names?.length
  )
}

/** Every live snapshot, oldest first (ties by id). */
export async function listSnapshots(repo: Repository): Promise<SnapshotEntry[]> {
  const rows = repo.cache.snapshots()
  const entry = (row: (typeof rows)[number], info: SnapshotInfo): SnapshotEntry => ({
    ...info,
    tags: row.editedTags ?? info.tags,
    id: row.id.toString('hex'),
    time: row.time,
    ref: {id: row.id, header: row.header},
  })
  // States record each snapshot's info: only snapshots of older states need their header read
  // (10,000 snapshots through an async pool cost more than the listing itself).
  const older = rows.filter((row) => !row.info)
  const fromHeaders = new Map<(typeof rows)[number], SnapshotInfo | undefined>()
  await mapConcurrent(older, repo.concurrency, async (row) => {
    try {
      fromHeaders.set(row, infoOf(await repo.snapshotHeader(row.id, row.header)))
    } catch (error) {
      repo.logger.warn(`snapshot ${row.id.toString('hex').slice(0, 16)} is unreadable: ${(error as Error).message}`)
    }
  })
  const out: SnapshotEntry[] = []
  for (const row of rows) {
    const info = row.info ?? fromHeaders.get(row)
    if (info) out.push(entry(row, info))
  }
  return out
}

function underPath(root: string, path: string): boolean {
  const p = path.length > 1 ? path.replace(/\/+$/, '') : path
  return root === p || p === '/' || root.startsWith(`${p}/`)
}

export function matchesFilter(entry: SnapshotEntry, filter: SnapshotFilter): boolean {
  if (filter.since !== undefined && entry.time < filter.since) return false
  if (filter.before !== undefined && entry.time >= filter.before) return false
  if (filter.tags?.length && !filter.tags.every((t) => entry.tags.includes(t))) return false
  if (filter.hosts?.length && !filter.hosts.includes(entry.host)) return false
  if (filter.names?.length && (entry.name === undefined || !filter.names.includes(entry.name))) return false
  if (filter.paths?.length && !filter.paths.some((p) => underPath(entry.importer.root, p))) return false
  return true
}

export async function filterSnapshots(repo: Repository, filter: SnapshotFilter): Promise<SnapshotEntry[]> {
  return (await listSnapshots(repo)).filter((e) => matchesFilter(e, filter))
}

/** Splits "REF:PATH"; PATH is absent without a colon. */
export function parseTarget(spec: string): {ref: string; path?: string} {
  const colon = spec.indexOf(':')
  if (colon < 0) return {ref: spec}
  return {ref: spec.slice(0, colon), path: spec.slice(colon + 1)}
}

const describeFilter = (filter: SnapshotFilter) => (isEmptyFilter(filter) ? '' : ' matching the filters')

/** Resolves one reference among `candidates` (oldest first). */
export function resolveRef(candidates: SnapshotEntry[], ref: string, filter: SnapshotFilter = {}): SnapshotEntry {
  const latest = /^latest(?:~(\d+))?$/i.exec(ref === '' ? 'latest' : ref)
  if (latest) {
    const back = Number(latest[1] ?? 0)
    const entry = candidates.at(-1 - back)
    if (!entry) {
      throw new NotFoundError(
        candidates.length === 0
          ? `no snapshot${describeFilter(filter)} in this repository`
          : `${ref}: there are only ${candidates.length} snapshots${describeFilter(filter)}`,
      )
    }
    return entry
  }
  const wanted = ref.toLowerCase()
  if (!/^[0-9a-f]+$/.test(wanted)) throw new UsageError(`"${ref}" is not a snapshot: give an id (hexadecimal prefix), latest or latest~N`)
  const found = candidates.filter((e) => e.id.startsWith(wanted))
  if (found.length === 0) throw new NotFoundError(`no snapshot ${ref}${describeFilter(filter)} in this repository: "plakar ls" lists them`)
  if (found.length > 1) {
    const ids = found.slice(0, 4).map((e) => e.id.slice(0, 12))
    throw new UsageError(`snapshot prefix ${ref} is ambiguous (${ids.join(', ')}${found.length > 4 ? ', …' : ''}): give more characters`)
  }
  return found[0]
}

/**
 * The snapshots named by `refs` among those passing `filter`, or all of those when `refs` is
 * empty; oldest first, each once. Every reference is resolved before anything is returned, so
 * a typo fails the whole selection.
 */
export async function selectSnapshots(repo: Repository, refs: string[], filter: SnapshotFilter = {}): Promise<SnapshotEntry[]> {
  const candidates = await filterSnapshots(repo, filter)
  if (refs.length === 0) return candidates
  const chosen = new Set(refs.map((ref) => resolveRef(candidates, ref, filter).id))
  return candidates.filter((e) => chosen.has(e.id))
}

/** Opens a selected snapshot: its header, with edited tags applied. */
export async function openSnapshot(repo: Repository, entry: SnapshotEntry): Promise<Snapshot> {
  const header = await repo.snapshotHeader(entry.ref.id, entry.ref.header)
  return new Snapshot(repo, {...header, tags: entry.tags})
}

/**
 * One snapshot and a path in it from "REF[:PATH]" (an absent spec is `latest`), among the
 * snapshots passing `filter`. The path is resolved against the snapshot root.
 */
export async function resolveTarget(
  repo: Repository,
  spec: string | undefined,
  filter: SnapshotFilter = {},
  candidates?: SnapshotEntry[],
): Promise<{snapshot: Snapshot; path: string; pathGiven: boolean}> {
  const {ref, path} = parseTarget(spec ?? 'latest')
  const entry = resolveRef(candidates ?? (await filterSnapshots(repo, filter)), ref, filter)
  const snapshot = await openSnapshot(repo, entry)
  return {snapshot, path: snapshot.resolve(path), pathGiven: path !== undefined && path !== ''}
}

const UNITS: Record<string, number> = {
  s: 1000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
  m: 30 * 86_400_000,
  y: 365 * 86_400_000,
}

/**
 * A duration such as `7d`, `36h`, `1y6m`, `90min` or `0`, in ms. Units: y (365 days), m (month,
 * 30 days, as restic's m), w, d, h, min, s.
 */
export function parseDuration(text: string, what = 'duration'): number {
  const t = text.trim().toLowerCase()
  if (/^0+$/.test(t)) return 0
  const re = /(\d+)(min|y|m|w|d|h|s)/gy
  let total = 0
  let matched = 0
  for (const m of t.matchAll(re)) {
    total += Number(m[1]) * UNITS[m[2]]
    matched += m[0].length
  }
  if (matched === 0 || matched !== t.length) {
    throw new UsageError(`${what}: "${text}" is not a duration: write it like 7d, 36h, 1y6m or 90min (units y, m, w, d, h, min, s)`)
  }
  return total
}

/**
 * A point in time: a date (`2026-01-01`, midnight UTC), an ISO time, or a duration meaning that
 * long before `now` (`7d`).
 */
export function parseTime(text: string, what: string, now = Date.now()): number {
  if (/^\d+(?:min|[ymwdhs])(?:\d+(?:min|[ymwdhs]))*$/i.test(text.trim())) return now - parseDuration(text, what)
  const t = Date.parse(text)
  if (Number.isNaN(t)) throw new UsageError(`${what}: "${text}" is not a date: give YYYY-MM-DD, an ISO time, or a duration ago such as 7d`)
  return t
}
