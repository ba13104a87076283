import {describe, expect, it} from 'vitest'
import {jitterDelay, Schedule} from '../src/schedule.js'

const at = (iso: string) => Date.parse(iso)

describe('schedules', () => {
  it('an interval stays on the grid of its first due time', () => {
    const s = new Schedule({schedule: {every: 10_000}})
    const anchor = at('2026-12-02T10:00:00Z')
    expect(s.next(anchor, anchor)).toBe(anchor + 10_000)
    // A late timer (a busy machine) does not shift the grid.
    expect(s.next(anchor + 13_500, anchor)).toBe(anchor + 20_000)
    expect(s.describe()).toBe('every 10s')
  })

  it('a cron expression, with seconds', () => {
    const s = new Schedule({schedule: {cron: '*/15 * * * * *'}})
    expect(s.next(at('2026-12-02T10:00:07Z'))).toBe(at('2026-12-02T10:00:15Z'))
    expect(new Schedule({schedule: {cron: '0 3 * * *'}}).describe()).toBe('cron "0 3 * * *"')
  })

  it('counts the due times missed while the agent was down', () => {
    const s = new Schedule({schedule: {every: 3_600_000}})
    const last = at('2026-12-02T00:00:00Z')
    expect(s.first(at('2026-12-02T03:30:00Z'), last)).toEqual({due: at('2026-12-02T04:00:00Z'), missed: 3})
    expect(s.first(at('2026-12-02T00:30:00Z'), last)).toEqual({due: at('2026-12-02T01:00:00Z'), missed: 0})
    // Never run: an interval task is due at once, a cron task at its next time.
    expect(s.first(last, undefined)).toEqual({due: last, missed: 0})
    const cron = new Schedule({schedule: {cron: '0 3 * * *'}})
    expect(cron.first(at('2026-12-02T01:00:00Z'), undefined).due).toBe(new Date(2026, 11, 2, 3).getTime() > at('2026-12-02T01:00:00Z') ? new Date(2026, 11, 2, 3).getTime() : new Date(2026, 11, 3, 3).getTime())
    const down = cron.first(new Date(2026, 11, 5, 4).getTime(), new Date(2026, 11, 2, 3).getTime())
    expect(down.missed).toBe(3)
  })

  it('jitter is a delay within [0, jitter]', () => {
    expect(jitterDelay(0)).toBe(0)
    expect(jitterDelay(1000, () => 0)).toBe(0)
    expect(jitterDelay(1000, () => 0.9999999)).toBe(1000)
    for (let i = 0; i < 100; i++) expect(jitterDelay(500)).toBeLessThanOrEqual(500)
  })
})
