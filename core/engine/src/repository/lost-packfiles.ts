import {isNotFound, mapConcurrent} from '@plakar/sdk'
import {emptyDelta} from '../format/state.js'
import type {Repository} from './repository.js'

/**
 * Live packfiles of the index (listed by a state, never deleted) that the storage no longer
 * holds: lost to an operator's mistake, a disk, a bucket policy. One listing of the storage's
 * packfiles, then a `stat` of each candidate, so that a listing that skipped an object cannot
 * make a present packfile look lost.
 *
 * Call it after the states were merged (`Repository.open` or `refresh`): a packfile is stored
 * before any state names it, so every packfile the cache knows was in the storage before the
 * listing started, and one missing from the listing is gone, not late.
 */
export async function findLostPackfiles(repo: Repository, signal?: AbortSignal): Promise<string[]> {
  const present = new Set<string>()
  for await (const id of repo.storage.list('packfile')) {
    signal?.throwIfAborted()
    present.add(id)
  }
  const candidates = repo.cache
    .packfiles()
    .map((p) => p.id)
    .filter((id) => !present.has(id))
  const lost: string[] = []
  await mapConcurrent(candidates, repo.concurrency, async (id) => {
    try {
      await repo.storage.stat('packfile', id)
    } catch (error) {
      if (isNotFound(error)) lost.push(id)
      else throw error
    }
  })
  return lost.sort()
}

/**
 * Records lost packfiles as deleted in a state, so that every client stops deduplicating
 * against their blobs and stores that data again: the deletion record is the one the format
 * already has for packfiles removed by maintenance (docs/format.md §8).
 */
export async function recordLostPackfiles(repo: Repository, lost: string[], host: string): Promise<void> {
  if (lost.length === 0) return
  const delta = emptyDelta(host)
  delta.deletedPackfiles = lost
  await repo.writeState(delta)
}

/** "3 packfiles (1f2e3d4c5b6a7980, …)" for messages. */
export function describePackfiles(ids: string[]): string {
  const shown = ids.slice(0, 3).map((id) => id.slice(0, 16))
  return `${ids.length} packfile${ids.length === 1 ? '' : 's'} (${shown.join(', ')}${ids.length > 3 ? ', …' : ''})`
}
