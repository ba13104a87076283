import type {Repository} from './repository.js'

/**
 * A temporary object untouched for this long belongs to a write that will never finish: a
 * write in progress touches its file at least every few seconds, and a lock is refreshed every
 * five minutes. Generous, because a remote server's clock may differ from ours.
 */
export const LEFTOVER_AGE_MS = 10 * 60_000

/**
 * Removes the temporary objects that killed or failed writers left in the storage (stale locks
 * are removed by RepositoryLock.acquire). Writers call it at start: leftovers never accumulate,
 * and no maintenance run is needed for them. A storage that cannot sweep is left alone.
 */
export async function sweepLeftovers(repo: Repository): Promise<void> {
  if (!repo.storage.sweep) return
  try {
    const {objects, bytes} = await repo.storage.sweep(LEFTOVER_AGE_MS)
    if (objects > 0) repo.logger.warn(`removed ${objects} temporary objects (${(bytes / 1048576).toFixed(1)} MiB) left by interrupted writes`)
  } catch (error) {
    // Cleaning up is a courtesy: the backup itself must not fail because of it.
    repo.logger.debug(`leftovers not swept: ${(error as Error).message}`)
  }
}
