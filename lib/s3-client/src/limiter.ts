/** A counting semaphore: at most `limit` tasks run at once, the others wait in order. */
export class Limiter {
  readonly limit: number
  #active = 0
  readonly #waiting: (() => void)[] = []

  constructor(limit: number) {
    this.limit = Math.max(1, limit)
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#active >= this.limit) await new Promise<void>((resolve) => this.#waiting.push(resolve))
    else this.#active++
    try {
      return await task()
    } finally {
      const next = this.#waiting.shift()
      // The slot passes straight to the next waiter, so #active stays counted.
      if (next) next()
      else this.#active--
    }
  }
}
