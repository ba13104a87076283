import {isWormStorage, type WormStorage} from '@plakar/sdk'
import type {Repository} from '../repository/repository.js'

const DAY = 86_400_000
/** Objects per extendRetention call. */
const BATCH = 100

/** The storage when it locks objects (WORM with a lock period), else undefined. */
export function wormStorageOf(repo: Repository): WormStorage | undefined {
  const storage = repo.storage
  if (!isWormStorage(storage) || storage.capabilities().worm !== true) return undefined
  return storage.wormSettings().days > 0 ? storage : undefined
}

/**
 * On a WORM storage, retains every live packfile and state until `days` from now (the
 * storage's lock period), so that the newest snapshot — which reuses packfiles written long ago
 * by deduplication — stays locked for the whole period, not only its new packfiles. The storage
 * never shortens a retention, and skips objects already retained long enough (one HEAD each).
 * Returns how many objects were looked at; 0 on other storages.
 */
export async function extendLiveRetention(repo: Repository, options: {signal?: AbortSignal; now?: number} = {}): Promise<{objects: number; until?: number}> {
  const storage = wormStorageOf(repo)
  if (!storage) return {objects: 0}
  const until = (options.now ?? Date.now()) + storage.wormSettings().days * DAY
  const packfiles = repo.cache.packfiles().map((p) => p.id)
  const states = [...repo.cache.knownStates()]
  for (const [kind, ids] of [
    ['packfile', packfiles],
    ['state', states],
  ] as const) {
    for (let i = 0; i < ids.length; i += BATCH) {
      options.signal?.throwIfAborted()
      await storage.extendRetention(kind, ids.slice(i, i + BATCH), until)
    }
  }
  return {objects: packfiles.length + states.length, until}
}
