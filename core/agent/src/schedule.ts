import {Cron} from 'croner'
import type {Task} from './task-file.js'

/**
 * When a task falls due: at a fixed interval from its previous due time (not from when the run
 * ended, so runs do not drift), or at the next time a cron expression names (croner: five
 * fields, or six with seconds first). Jitter is added when a timer is set, never to the due time
 * itself, so the schedule stays on its grid.
 */
export class Schedule {
  readonly #every?: number
  readonly #cron?: Cron

  constructor(task: Pick<Task, 'schedule'>) {
    this.#every = task.schedule.every
    if (task.schedule.cron !== undefined) this.#cron = new Cron(task.schedule.cron, {paused: true})
  }

  /** The first due time strictly after `after`, on the grid that `anchor` (a previous due time) sets for intervals. */
  next(after: number, anchor?: number): number {
    if (this.#every !== undefined) {
      if (anchor === undefined || anchor > after) return after + this.#every
      const steps = Math.floor((after - anchor) / this.#every) + 1
      return anchor + steps * this.#every
    }
    const next = this.#cron!.nextRun(new Date(after))
    // A cron expression that never matches again (a date in the past): never.
    return next ? next.getTime() : Number.POSITIVE_INFINITY
  }

  /**
   * The first due time of a task when the agent starts. `last` is when its previous run was due
   * (from the history): a due time between then and now was missed while the agent was down.
   * Without a history, an interval task is due now and a cron task at its next time.
   */
  first(now: number, last: number | undefined): {due: number; missed: number} {
    if (last === undefined) return {due: this.#every !== undefined ? now : this.next(now), missed: 0}
    let missed = 0
    let due = this.next(last, last)
    // Count the missed times, up to a bound (a task every second, down for a year).
    while (due <= now && missed < 10_000) {
      missed++
      due = this.next(due, last)
    }
    if (due <= now) due = this.next(now, last)
    return {due, missed}
  }

  describe(): string {
    if (this.#every !== undefined) return `every ${formatInterval(this.#every)}`
    return `cron "${this.#cron!.getPattern()}"`
  }
}

/** A random delay in [0, jitter]: spreads many agents' runs of one schedule. */
export function jitterDelay(jitterMs: number, random = Math.random): number {
  return jitterMs > 0 ? Math.floor(random() * (jitterMs + 1)) : 0
}

export function formatInterval(ms: number): string {
  const parts: string[] = []
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['min', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms >= size) {
      parts.push(`${Math.floor(ms / size)}${unit}`)
      ms %= size
    }
  }
  return parts.join('') || `${ms}ms`
}
