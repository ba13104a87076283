import {UsageError} from '@plakar/sdk'
import type {Repository} from '../repository/repository.js'
import type {SnapshotEntry} from './selection.js'
import {commitEvent} from './state-event.js'

export interface TagChange {
  /** Replace the tags with these (before add and remove). */
  set?: string[]
  add?: string[]
  remove?: string[]
}

export interface TagPlan {
  id: string
  before: string[]
  after: string[]
}

/** The new tags of each snapshot; snapshots whose tags would not change are left out. */
export function planTags(entries: SnapshotEntry[], change: TagChange): TagPlan[] {
  for (const t of [...(change.set ?? []), ...(change.add ?? [])]) {
    if (t === '' || /[\n\r]/.test(t)) throw new UsageError(`"${t}" is not a tag: tags are non-empty and on one line`)
  }
  const plans: TagPlan[] = []
  for (const e of entries) {
    const tags = new Set(change.set ?? e.tags)
    for (const t of change.add ?? []) tags.add(t)
    for (const t of change.remove ?? []) tags.delete(t)
    const after = [...tags]
    const same = after.length === e.tags.length && after.every((t, i) => t === e.tags[i])
    if (!same) plans.push({id: e.id, before: e.tags, after})
  }
  return plans
}

/** Records the tag edits as one state event (headers are immutable: see format/state.ts TagEdit). */
export async function applyTags(repo: Repository, plans: TagPlan[]): Promise<void> {
  if (plans.length === 0) return
  await commitEvent(repo, (delta) => {
    const time = Date.now()
    delta.tagEdits = plans.map((p) => ({id: Buffer.from(p.id, 'hex'), tags: p.after, time}))
  })
}
