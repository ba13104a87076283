import {onAbort} from './abort.js'

/** Runs `fn` over `items` with at most `limit` calls in flight; results keep the input order. */
export async function mapConcurrent<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  let failed = false
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++
      try {
        results[i] = await fn(items[i], i)
      } catch (error) {
        failed = true
        throw error
      }
    }
  }
  await Promise.all(Array.from({length: Math.min(limit, items.length)}, worker))
  return results
}

/**
 * Bounds the number of tasks in flight. `run` resolves as soon as the task is admitted, so a
 * producer awaiting it is paced by the consumers (back-pressure); `drain` waits for all and
 * rethrows the first failure. Waiters queue and are woken one per finished task: racing all
 * running promises instead would attach a reaction to each of them at every admission, which
 * for hundreds of tasks and 100k files drowned the process in microtasks.
 */
export class TaskPool {
  readonly #limit: number
  #running = 0
  readonly #slots: (() => void)[] = []
  readonly #idle: (() => void)[] = []
  #error: unknown
  #failed = false

  constructor(limit: number) {
    this.#limit = Math.max(1, limit)
  }

  async run(task: () => Promise<void>): Promise<void> {
    while (this.#running >= this.#limit) await new Promise<void>((resolve) => this.#slots.push(resolve))
    this.#throwIfFailed()
    this.#running++
    task()
      .catch((error) => {
        if (!this.#failed) {
          this.#failed = true
          this.#error = error
        }
      })
      .finally(() => {
        this.#running--
        this.#slots.shift()?.()
        if (this.#running === 0) for (const resolve of this.#idle.splice(0)) resolve()
      })
  }

  async drain(): Promise<void> {
    while (this.#running > 0) await new Promise<void>((resolve) => this.#idle.push(resolve))
    this.#throwIfFailed()
  }

  #throwIfFailed(): void {
    if (this.#failed) throw this.#error
  }
}

/**
 * Shares an amount (bytes of memory) between holders: `acquire(n)` waits until n more fit
 * under the limit, or until nothing else is held (a single holder larger than the limit still
 * runs, alone). Waiters are served in order, so a large request is not starved by small ones.
 */
export class Budget {
  readonly #limit: number
  #used = 0
  readonly #waiters: {amount: number; resolve: () => void}[] = []

  constructor(limit: number) {
    this.#limit = limit
  }

  async acquire(amount: number): Promise<() => void> {
    if (this.#waiters.length > 0 || !this.#fits(amount)) {
      await new Promise<void>((resolve) => this.#waiters.push({amount, resolve}))
    } else {
      this.#used += amount
    }
    return this.#releaser(amount)
  }

  /**
   * `amount` at once if it fits and nobody waits, else undefined: for what is worth doing only
   * when there is room (reading ahead), by a holder that must not wait while it holds some.
   */
  tryAcquire(amount: number): (() => void) | undefined {
    if (this.#waiters.length > 0 || !this.#fits(amount)) return undefined
    this.#used += amount
    return this.#releaser(amount)
  }

  /** The amount held now. */
  get used(): number {
    return this.#used
  }

  #releaser(amount: number): () => void {
    let released = false
    return () => {
      if (released) return
      released = true
      this.#used -= amount
      while (this.#waiters.length > 0 && this.#fits(this.#waiters[0].amount)) {
        const next = this.#waiters.shift()!
        this.#used += next.amount
        next.resolve()
      }
    }
  }

  #fits(amount: number): boolean {
    return this.#used === 0 || this.#used + amount <= this.#limit
  }
}

/**
 * `promise`, or a rejection with the signal's reason as soon as `signal` aborts. For calls a
 * protocol cannot cancel one by one (an SFTP request, a database query): the caller stops
 * waiting at once and the late answer is ignored. Without a signal, `promise` itself.
 */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise
  if (signal.aborted) {
    promise.catch(() => {})
    return Promise.reject(signal.reason)
  }
  return new Promise<T>((resolve, reject) => {
    const release = onAbort(signal, () => {
      promise.catch(() => {})
      reject(signal.reason)
    })
    promise.then(
      (value) => {
        release()
        resolve(value)
      },
      (error: unknown) => {
        release()
        reject(error)
      },
    )
  })
}
