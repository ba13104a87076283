import type {SnapshotHeader} from '../format/snapshot.js'
import type {Repository} from '../repository/repository.js'
import {contentKey, type Entry} from '../tree/entry.js'
import {Snapshot} from './snapshot.js'

export type TimelineChange = 'added' | 'modified' | 'unchanged' | 'removed' | 'absent'

export interface TimelinePoint {
  snapshot: SnapshotHeader
  /** The entry at the path in this snapshot, if any. */
  entry?: Entry
  /** 1 for the first distinct content (or target, or type) seen, 2 for the next, … */
  version?: number
  change: TimelineChange
}

/** What makes two versions of a path different: its type and its content, target or mode. */
function identity(entry: Entry): string {
  if (entry.error) return `error:${entry.error}`
  if (entry.info.type === 'file') return `file:${entry.info.size}:${contentKey(entry)}`
  if (entry.info.type === 'symlink') return `symlink:${entry.target ?? ''}`
  if (entry.info.type === 'directory') return `directory:${entry.summary ? JSON.stringify(entry.summary.below) : ''}`
  return entry.info.type
}

/**
 * One path across snapshots, oldest first: whether it exists in each, and when its content
 * changed. Each snapshot costs one tree lookup (a few cached node reads), never a walk.
 * `filter` picks the snapshots to follow (by default those of the same importer and root as
 * `like`, so a laptop's /home is not compared with a server's).
 */
export async function timeline(repo: Repository, path: string, like?: SnapshotHeader): Promise<TimelinePoint[]> {
  const headers = (await repo.snapshots()).filter((h) => !like || (h.importer.type === like.importer.type && h.importer.origin === like.importer.origin && h.importer.root === like.importer.root))
  headers.sort((a, b) => a.time - b.time)
  const versions = new Map<string, number>()
  const out: TimelinePoint[] = []
  let previous: string | undefined
  for (const header of headers) {
    const entry = await new Snapshot(repo, header).entry(path)
    if (!entry) {
      out.push({snapshot: header, change: previous === undefined ? 'absent' : 'removed'})
      previous = undefined
      continue
    }
    const id = identity(entry)
    if (!versions.has(id)) versions.set(id, versions.size + 1)
    const change: TimelineChange = previous === undefined ? 'added' : previous === id ? 'unchanged' : 'modified'
    out.push({snapshot: header, entry, version: versions.get(id), change})
    previous = id
  }
  return out
}
