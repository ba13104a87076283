import {describe, expect, it} from 'vitest'
import {planRetention, type RetentionPolicy} from '../../src/engine/retention.js'
import type {SnapshotEntry} from '../../src/engine/selection.js'
import {UsageError} from '@plakar/sdk'

const HOUR = 3_600_000
const DAY = 24 * HOUR
/** Noon local time, so that day boundaries in any time zone stay where the test expects them. */
const base = new Date(2026, 0, 1, 12).getTime()

let n = 0
function snap(time: number, extra: Partial<SnapshotEntry> = {}): SnapshotEntry {
  const id = (n++).toString(16).padStart(64, '0')
  return {id, time, host: 'h', user: 'u', tags: [], importer: {type: 'fs', origin: 'h', root: '/data'}, size: 1, files: 1, errors: 0, ref: {id: Buffer.from(id, 'hex'), header: Buffer.alloc(32)}, ...extra}
}

const kept = (entries: SnapshotEntry[], policy: RetentionPolicy) =>
  planRetention(entries, policy)
    .filter((d) => d.keep)
    .map((d) => entries.indexOf(d.entry))
    .sort((a, b) => a - b)

describe('retention', () => {
  // Three snapshots a day (08:00, 12:00, 16:00 local) for 40 days.
  const daily = Array.from({length: 40}, (_, d) => [-4, 0, 4].map((h) => snap(base + d * DAY + h * HOUR))).flat()

  it('keep-last keeps the N newest', () => {
    expect(kept(daily, {last: 4})).toEqual([116, 117, 118, 119])
  })

  it('keep-daily keeps the newest of each of the last N days', () => {
    expect(kept(daily, {daily: 3})).toEqual([113, 116, 119])
  })

  it('rules add up, and each snapshot says why it is kept', () => {
    const plan = planRetention(daily, {last: 2, daily: 2, monthly: 2})
    const reasons = plan.filter((d) => d.keep).map((d) => [daily.indexOf(d.entry), d.reasons.join(', ')])
    expect(reasons).toEqual([
      [119, 'last, daily 2026-02-09, monthly 2026-02'],
      [118, 'last'],
      [116, 'daily 2026-02-08'],
      [92, 'monthly 2026-01'],
    ])
  })

  it('keep-weekly counts ISO weeks; keep-yearly years; hourly hours', () => {
    // The last day, 2026-02-09, is a Monday: it opens week 7, and week 6 ends the day before.
    expect(kept(daily, {weekly: 2})).toEqual([116, 119])
    const weeks = planRetention(daily, {weekly: 10}).filter((d) => d.keep).map((d) => d.reasons[0])
    expect(weeks).toEqual(['weekly 2026-W07', 'weekly 2026-W06', 'weekly 2026-W05', 'weekly 2026-W04', 'weekly 2026-W03', 'weekly 2026-W02', 'weekly 2026-W01'])
    expect(kept(daily, {yearly: 5})).toEqual([119])
    expect(kept(daily, {hourly: 2})).toEqual([118, 119])
  })

  it('keep-within is measured from the newest snapshot of the group, not from now', () => {
    expect(kept(daily, {within: DAY + 1})).toEqual([116, 117, 118, 119])
  })

  it('keep-tag keeps every snapshot with any of the tags', () => {
    const s = [snap(base, {tags: ['keep']}), snap(base + DAY), snap(base + 2 * DAY, {tags: ['x', 'gold']}), snap(base + 3 * DAY)]
    expect(kept(s, {tags: ['keep', 'gold'], last: 1})).toEqual([0, 2, 3])
  })

  it('groups by host and path by default, or by the fields given', () => {
    const s = [
      snap(base, {host: 'a'}),
      snap(base + HOUR, {host: 'b'}),
      snap(base + 2 * HOUR, {host: 'a', importer: {type: 'fs', origin: 'a', root: '/other'}}),
      snap(base + 3 * HOUR, {host: 'a'}),
    ]
    expect(kept(s, {last: 1})).toEqual([1, 2, 3])
    expect(kept(s, {last: 1, groupBy: ['host']})).toEqual([1, 3])
    expect(kept(s, {last: 1, groupBy: []})).toEqual([3])
    expect(planRetention(s, {last: 1})[0].group).toBe('host=a path=/data')
  })

  it('refuses a policy without a rule: it would delete everything', () => {
    expect(() => planRetention(daily, {})).toThrow(UsageError)
    expect(() => planRetention(daily, {last: 0, groupBy: ['host']})).toThrow(/at least one rule/)
  })
})
