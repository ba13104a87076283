import {onAbort} from './abort.js'

export interface RetryOptions {
  /** Attempts in all, the first included. */
  attempts?: number
  /** Delay before the second attempt; it doubles each time, up to `maxDelayMs`. */
  baseDelayMs?: number
  maxDelayMs?: number
  /** Whether an error is worth another try (5xx, throttling, reset connections…). */
  retryable: (error: unknown) => boolean
  /** Called before each new attempt, e.g. to reconnect or log. */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void | Promise<void>
  signal?: AbortSignal
}

/**
 * Runs `fn` until it succeeds, a non-retryable error occurs, or attempts run out. Delays grow
 * exponentially with "full jitter" (a uniform random delay up to the exponential bound), which
 * spreads out clients that failed together (AWS architecture blog, "Exponential Backoff And
 * Jitter"). The last error is rethrown as is.
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const attempts = options.attempts ?? 5
  const base = options.baseDelayMs ?? 200
  const max = options.maxDelayMs ?? 10_000
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt)
    } catch (error) {
      if (attempt >= attempts || !options.retryable(error) || options.signal?.aborted) throw error
      const wait = Math.random() * Math.min(max, base * 2 ** (attempt - 1))
      await options.onRetry?.(error, attempt, wait)
      await delay(wait, options.signal)
    }
  }
}

/**
 * Resolves after `ms`, or rejects with the signal's reason as soon as it aborts (unlike
 * timers/promises, it adds no listener of its own to the signal: see abort.ts).
 */
export function delay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason)
  return new Promise((resolve, reject) => {
    const release = signal
      ? onAbort(signal, () => {
          clearTimeout(timer)
          reject(signal.reason)
        })
      : () => {}
    const timer = setTimeout(() => {
      release()
      resolve()
    }, ms)
  })
}

/** Network-level failures that a new attempt may cure. */
export function isTransientNetworkError(error: unknown): boolean {
  const code = (error as {code?: unknown})?.code
  return (
    typeof code === 'string' &&
    ['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE'].includes(code)
  )
}
