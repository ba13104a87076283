import {UsageError} from '@plakar/sdk'
import type {SnapshotEntry} from './selection.js'

/**
 * Retention, as restic's `forget` defines it (its rules are what users already know): within
 * each group of snapshots, newest first, a snapshot is kept when a rule wants it, and goes
 * otherwise.
 *
 * - `last N`: the N newest.
 * - `hourly/daily/weekly/monthly/yearly N`: the newest snapshot of each of the N most recent
 *   hours (days, ISO weeks, months, years) that have one. Periods are in the local time zone.
 * - `within D`: every snapshot taken less than D before the group's newest snapshot (not before
 *   now: a machine that stopped backing up keeps its last snapshots).
 * - `tags`: every snapshot with any of these tags.
 */
export interface RetentionPolicy {
  last?: number
  hourly?: number
  daily?: number
  weekly?: number
  monthly?: number
  yearly?: number
  /** ms */
  within?: number
  tags?: string[]
  /** Groups are formed by these fields; default host and path. */
  groupBy?: GroupField[]
}

export const GROUP_FIELDS = ['host', 'path', 'tags', 'name'] as const
export type GroupField = (typeof GROUP_FIELDS)[number]
export const DEFAULT_GROUP_BY: GroupField[] = ['host', 'path']

export interface RetentionDecision {
  entry: SnapshotEntry
  keep: boolean
  /** Why it is kept ("last", "daily 2026-11-30", "within 7d", "tag keep"); empty when it goes. */
  reasons: string[]
  /** The group key, readable ("host=web1 path=/srv"). */
  group: string
}

const PERIODS = ['hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0')
}

/** ISO 8601 week of a local date, as YYYY-Www. */
function isoWeek(d: Date): string {
  const day = new Date(d.getFullYear(), d.getMonth(), d.getDate())
  const weekday = (day.getDay() + 6) % 7
  day.setDate(day.getDate() - weekday + 3)
  const firstThursday = new Date(day.getFullYear(), 0, 4)
  const week = 1 + Math.round(((day.getTime() - firstThursday.getTime()) / 86_400_000 - 3 + ((firstThursday.getDay() + 6) % 7)) / 7)
  return `${day.getFullYear()}-W${pad(week)}`
}

function periodOf(kind: (typeof PERIODS)[number], time: number): string {
  const d = new Date(time)
  const date = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`
  switch (kind) {
    case 'hourly':
      return `${date} ${pad(d.getHours())}h`
    case 'daily':
      return date
    case 'weekly':
      return isoWeek(d)
    case 'monthly':
      return date.slice(0, 7)
    case 'yearly':
      return String(d.getFullYear())
  }
}

export function groupKey(entry: SnapshotEntry, by: GroupField[]): string {
  return by
    .map((f) => {
      switch (f) {
        case 'host':
          return `host=${entry.host}`
        case 'path':
          return `path=${entry.importer.root}`
        case 'tags':
          return `tags=${[...entry.tags].sort().join(',')}`
        case 'name':
          return `name=${entry.name ?? ''}`
      }
    })
    .join(' ')
}

export function hasRule(policy: RetentionPolicy): boolean {
  return (
    [policy.last, ...PERIODS.map((p) => policy[p])].some((n) => n !== undefined && n > 0) ||
    (policy.within !== undefined && policy.within > 0) ||
    (policy.tags?.length ?? 0) > 0
  )
}

/**
 * What to keep and what goes. Refuses a policy with no rule at all: it would delete every
 * snapshot, which no one means.
 */
export function planRetention(entries: SnapshotEntry[], policy: RetentionPolicy, formatDuration: (ms: number) => string = (ms) => `${ms}ms`): RetentionDecision[] {
  if (!hasRule(policy)) {
    throw new UsageError('a retention policy needs at least one rule (--keep-last, --keep-daily, --keep-within, --keep-tag…): without one, every snapshot would go')
  }
  const by = policy.groupBy ?? DEFAULT_GROUP_BY
  const groups = new Map<string, SnapshotEntry[]>()
  for (const e of entries) {
    const key = groupKey(e, by)
    let list = groups.get(key)
    if (!list) groups.set(key, (list = []))
    list.push(e)
  }
  const decisions: RetentionDecision[] = []
  for (const [group, list] of groups) {
    const newest = [...list].sort((a, b) => b.time - a.time || b.id.localeCompare(a.id))
    const remaining: Record<string, number> = {last: policy.last ?? 0}
    for (const p of PERIODS) remaining[p] = policy[p] ?? 0
    const lastPeriod: Record<string, string | undefined> = {}
    const top = newest[0]?.time ?? 0
    for (const [i, entry] of newest.entries()) {
      const reasons: string[] = []
      if (i < remaining.last) reasons.push('last')
      for (const p of PERIODS) {
        if (remaining[p] <= 0) continue
        const period = periodOf(p, entry.time)
        if (period !== lastPeriod[p]) {
          lastPeriod[p] = period
          remaining[p]--
          reasons.push(`${p} ${period}`)
        }
      }
      if (policy.within !== undefined && policy.within > 0 && top - entry.time < policy.within) reasons.push(`within ${formatDuration(policy.within)}`)
      for (const t of policy.tags ?? []) if (entry.tags.includes(t)) reasons.push(`tag ${t}`)
      decisions.push({entry, keep: reasons.length > 0, reasons, group})
    }
  }
  return decisions
}
