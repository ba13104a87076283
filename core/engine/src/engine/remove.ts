import type {Repository} from '../repository/repository.js'
import type {SnapshotEntry} from './selection.js'
import {commitEvent} from './state-event.js'

/**
 * Deletes snapshots: one state event listing them, written under the shared repository lock.
 * Nothing stored is removed here; maintenance later reclaims what no snapshot references.
 */
export async function removeSnapshots(repo: Repository, entries: SnapshotEntry[]): Promise<void> {
  if (entries.length === 0) return
  await commitEvent(repo, (delta) => {
    const time = Date.now()
    delta.deletedSnapshots = entries.map((e) => ({id: Buffer.from(e.id, 'hex'), time}))
  })
}
