import {randomBytes} from 'node:crypto'
import {check, type CheckProblem, type CheckProgress, type CheckResult, type CheckTarget} from '@plakar/engine/engine/check.js'
import type {Repository} from '@plakar/engine/repository/repository.js'

export interface CheckJobState {
  id: string
  snapshot: string
  path: string
  fast: boolean
  state: 'running' | 'done' | 'failed'
  /** Bumped on every change; a client waits for a version newer than the one it has. */
  version: number
  started: number
  finished?: number
  progress?: CheckProgress
  problems: CheckProblem[]
  result?: Omit<CheckResult, 'problems'>
  error?: string
}

const MAX_PROBLEMS = 1000
const KEEP_FINISHED = 20

/**
 * Checks started from the browser. They run in this process (the engine's check, with its
 * decoding workers), one at a time per snapshot path; their state is kept for the page to
 * follow by long polling: a request names the last version it saw and is answered on the next
 * change, so progress arrives as it happens with no polling interval.
 */
export class CheckJobs {
  readonly #repo: Repository
  readonly #jobs = new Map<string, CheckJobState>()
  readonly #waiters = new Map<string, Set<() => void>>()

  constructor(repo: Repository) {
    this.#repo = repo
  }

  start(target: CheckTarget, options: {fast?: boolean; concurrency?: number}): CheckJobState {
    for (const job of this.#jobs.values()) {
      if (job.state === 'running' && job.snapshot === target.snapshot.id && job.path === target.path && job.fast === !!options.fast) return job
    }
    const job: CheckJobState = {id: randomBytes(8).toString('hex'), snapshot: target.snapshot.id, path: target.path, fast: !!options.fast, state: 'running', version: 1, started: Date.now(), problems: []}
    this.#jobs.set(job.id, job)
    this.#trim()
    let last = 0
    check(this.#repo, [target], {
      fast: options.fast,
      concurrency: options.concurrency,
      onProgress: (progress) => {
        job.progress = progress
        // Progress can fire per file: tell waiters at most every 100 ms, and on phase changes.
        const now = Date.now()
        if (now - last >= 100 || progress.done === progress.total) {
          last = now
          this.#changed(job)
        }
      },
      onProblem: (problem) => {
        if (job.problems.length < MAX_PROBLEMS) job.problems.push(problem)
        this.#changed(job)
      },
    }).then(
      (result) => {
        const {problems, ...counts} = result
        job.problems = problems.slice(0, MAX_PROBLEMS)
        job.result = counts
        job.state = 'done'
        job.finished = Date.now()
        this.#changed(job)
      },
      (error: Error) => {
        job.state = 'failed'
        job.error = error.message
        job.finished = Date.now()
        this.#changed(job)
      },
    )
    return job
  }

  get(id: string): CheckJobState | undefined {
    return this.#jobs.get(id)
  }

  list(): CheckJobState[] {
    return [...this.#jobs.values()]
  }

  /** Resolves with the job once its version is above `since`, or after `timeoutMs` as it is. */
  async wait(id: string, since: number, timeoutMs: number, signal?: AbortSignal): Promise<CheckJobState | undefined> {
    const job = this.#jobs.get(id)
    if (!job || job.version > since || job.state !== 'running') return job
    await new Promise<void>((resolve) => {
      const set = this.#waiters.get(id) ?? new Set()
      this.#waiters.set(id, set)
      const done = () => {
        clearTimeout(timer)
        set.delete(done)
        signal?.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, timeoutMs)
      signal?.addEventListener('abort', done)
      set.add(done)
    })
    return this.#jobs.get(id)
  }

  #changed(job: CheckJobState): void {
    job.version++
    for (const wake of [...(this.#waiters.get(job.id) ?? [])]) wake()
  }

  #trim(): void {
    const finished = [...this.#jobs.values()].filter((j) => j.state !== 'running')
    for (const job of finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED))) this.#jobs.delete(job.id)
  }
}
