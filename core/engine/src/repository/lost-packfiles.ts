import {isNotFound, mapConcurrent} from '@plakar/sdk'
import {emptyDelta} from '../format/state.js'
import type {Repository} from './repository.js'

/**
 * After its last blob a packfile holds at least a sealed index and a sealed footer (each an
 * 8-byte header, at least one byte of content and a 32-byte tag or MAC) and 4 bytes of footer
 * length (docs/format.md §7): one shorter than its blobs' end plus this was truncated.
 */
const MIN_TRAILER = 2 * (8 + 1 + 32) + 4

export interface LostPackfiles {
  /** Every packfile whose blobs cannot all be read: missing and truncated. */
  ids: string[]
  /** Those of `ids` that are present but shorter than their indexed blobs need. */
  truncated: string[]
}

/**
 * Live packfiles of the index (listed by a state, never deleted) that the storage no longer
 * holds, or holds truncated: lost to an operator's mistake, a disk, a bucket policy, a full
 * disk under a careless copy. One listing of the storage's packfiles (with sizes, where the
 * storage lists them: {@link Storage.listWithSizes}), then a `stat` of each candidate, so that
 * a listing that skipped an object or is stale cannot make a sound packfile look lost.
 *
 * Call it after the states were merged (`Repository.open` or `refresh`): a packfile is stored
 * before any state names it, so every packfile the cache knows was in the storage before the
 * listing started, and one missing from the listing is gone, not late.
 */
export async function findLostPackfiles(repo: Repository, signal?: AbortSignal): Promise<LostPackfiles> {
  const present = new Map<string, number | undefined>()
  if (repo.storage.listWithSizes) {
    for await (const {id, size} of repo.storage.listWithSizes('packfile')) {
      signal?.throwIfAborted()
      present.set(id, size)
    }
  } else {
    for await (const id of repo.storage.list('packfile')) {
      signal?.throwIfAborted()
      present.set(id, undefined)
    }
  }
  const ends = repo.storage.listWithSizes ? repo.cache.packfileEnds() : new Map<string, number>()
  const tooShort = (id: string, size: number | undefined) => size !== undefined && size < (ends.get(id) ?? 0) + MIN_TRAILER
  const candidates = repo.cache
    .packfiles()
    .map((p) => p.id)
    .filter((id) => !present.has(id) || tooShort(id, present.get(id)))
  const lost: string[] = []
  const truncated: string[] = []
  await mapConcurrent(candidates, repo.concurrency, async (id) => {
    try {
      const {size} = await repo.storage.stat('packfile', id)
      if (tooShort(id, size)) truncated.push(id)
    } catch (error) {
      if (isNotFound(error)) lost.push(id)
      else throw error
    }
  })
  return {ids: [...lost, ...truncated].sort(), truncated: truncated.sort()}
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

/** "3 packfiles (1f2e3d4c5b6a7980, …) listed by the index are missing from the storage" for messages. */
export function describeLost(lost: LostPackfiles): string {
  const n = lost.ids.length
  const what = lost.truncated.length === 0 ? 'missing from the storage' : lost.truncated.length === n ? 'truncated in the storage' : 'missing from the storage or truncated'
  return `${describePackfiles(lost.ids)} listed by the index ${n === 1 ? 'is' : 'are'} ${what}`
}

/** "3 packfiles (1f2e3d4c5b6a7980, …)" for messages. */
export function describePackfiles(ids: string[]): string {
  const shown = ids.slice(0, 3).map((id) => id.slice(0, 16))
  return `${ids.length} packfile${ids.length === 1 ? '' : 's'} (${shown.join(', ')}${ids.length > 3 ? ', …' : ''})`
}
