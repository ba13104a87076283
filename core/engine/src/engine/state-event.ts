import {hostname, userInfo} from 'node:os'
import {emptyDelta, type StateDelta} from '../format/state.js'
import {RepositoryLock, type LockOwner} from '../repository/lock.js'
import type {Repository} from '../repository/repository.js'

/** The lock owner this process is: host, pid, user. */
export function currentOwner(): LockOwner {
  let user = 'unknown'
  try {
    user = userInfo().username
  } catch {
    // No passwd entry (containers): the uid is still in the process, the name is not needed.
  }
  return {host: hostname(), pid: process.pid, user}
}

/**
 * Writes one state delta holding an event (deleted snapshots, tag edits) under a shared
 * repository lock, as backups do: maintenance, which takes the exclusive lock, never runs
 * between the moment the event is decided and the moment it is published.
 */
export async function commitEvent(repo: Repository, fill: (delta: StateDelta) => void, owner = currentOwner()): Promise<string> {
  const lock = await RepositoryLock.acquire(repo, 'shared', owner)
  try {
    const delta = emptyDelta(owner.host)
    fill(delta)
    lock.assertHeld()
    return await repo.writeState(delta)
  } finally {
    await lock.release().catch(() => {})
  }
}
