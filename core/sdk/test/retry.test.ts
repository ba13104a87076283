import {describe, expect, it, vi} from 'vitest'
import {isTransientNetworkError, withRetry} from '../src/retry.js'

const transient = (code = 'ECONNRESET') => Object.assign(new Error(`transient ${code}`), {code})

describe('withRetry', () => {
  it('returns the first success, after transient failures', async () => {
    let calls = 0
    const result = await withRetry(
      async (attempt) => {
        calls++
        expect(attempt).toBe(calls)
        if (attempt < 3) throw transient()
        return 'ok'
      },
      {retryable: isTransientNetworkError, baseDelayMs: 1},
    )
    expect(result).toBe('ok')
    expect(calls).toBe(3)
  })

  it('does not retry a permanent error', async () => {
    const fn = vi.fn(async () => {
      throw Object.assign(new Error('403 forbidden'), {code: 'AccessDenied'})
    })
    await expect(withRetry(fn, {retryable: isTransientNetworkError, baseDelayMs: 1})).rejects.toThrow('403 forbidden')
    expect(fn).toHaveBeenCalledTimes(1)
  })

  it('rethrows the last error as is once attempts run out', async () => {
    let calls = 0
    const errors: Error[] = []
    const promise = withRetry(
      async () => {
        const error = transient(`E${++calls}`)
        errors.push(error)
        throw error
      },
      {retryable: () => true, attempts: 4, baseDelayMs: 1},
    )
    expect(await promise.catch((e: unknown) => e)).toBe(errors[3])
    expect(calls).toBe(4)
    expect(errors).toHaveLength(4)
  })

  it('calls onRetry before each new attempt, with growing but bounded delays', async () => {
    const seen: [number, number][] = []
    await expect(
      withRetry(
        async () => {
          throw transient()
        },
        {retryable: () => true, attempts: 6, baseDelayMs: 2, maxDelayMs: 8, onRetry: (_e, attempt, delay) => void seen.push([attempt, delay])},
      ),
    ).rejects.toThrow()
    expect(seen.map(([a]) => a)).toEqual([1, 2, 3, 4, 5])
    seen.forEach(([attempt, delay]) => {
      expect(delay).toBeGreaterThanOrEqual(0)
      expect(delay).toBeLessThanOrEqual(Math.min(8, 2 * 2 ** (attempt - 1)))
    })
  })

  it('full jitter: each delay is a uniform draw below the exponential bound', async () => {
    const random = vi.spyOn(Math, 'random').mockReturnValue(0.5)
    try {
      const delays: number[] = []
      await withRetry(
        async () => {
          throw transient()
        },
        {retryable: () => true, attempts: 5, baseDelayMs: 4, maxDelayMs: 10, onRetry: (_e, _a, delay) => void delays.push(delay)},
      ).catch(() => {})
      expect(delays).toEqual([2, 4, 5, 5])
    } finally {
      random.mockRestore()
    }
  })

  it('stops waiting when its signal is aborted', async () => {
    const controller = new AbortController()
    let calls = 0
    const started = Date.now()
    const promise = withRetry(
      async () => {
        calls++
        throw transient()
      },
      {retryable: () => true, attempts: 10, baseDelayMs: 10_000, maxDelayMs: 10_000, signal: controller.signal, onRetry: () => void controller.abort()},
    )
    await expect(promise).rejects.toThrow()
    expect(calls).toBe(1)
    expect(Date.now() - started).toBeLessThan(2000)
  })
})

describe('isTransientNetworkError', () => {
  it('knows reset, refused, timed-out and unreachable connections', () => {
    for (const code of ['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH', 'ECONNABORTED']) {
      expect(isTransientNetworkError(transient(code)), code).toBe(true)
    }
  })

  it('does not retry what a new attempt cannot cure', () => {
    for (const error of [new Error('x'), Object.assign(new Error('x'), {code: 'ENOENT'}), Object.assign(new Error('x'), {code: 403}), null, undefined, 'ECONNRESET']) {
      expect(isTransientNetworkError(error)).toBe(false)
    }
  })
})
