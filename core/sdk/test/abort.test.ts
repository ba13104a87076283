import {getEventListeners} from 'node:events'
import {describe, expect, it} from 'vitest'
import {childSignal, onAbort} from '../src/abort.js'
import {abortable} from '../src/concurrency.js'
import {delay, withRetry} from '../src/retry.js'

const abortListeners = (signal: AbortSignal) => getEventListeners(signal, 'abort').length

describe('one abort listener per signal', () => {
  it('a hundred calls waiting on one signal add one listener, and all stop when it aborts', async () => {
    const controller = new AbortController()
    const calls = Array.from({length: 100}, () => abortable(new Promise(() => {}), controller.signal))
    const sleeps = Array.from({length: 20}, () => delay(60_000, controller.signal))
    const children = Array.from({length: 20}, () => childSignal(controller.signal))
    expect(abortListeners(controller.signal)).toBe(1)
    controller.abort(new Error('interrupted'))
    for (const call of [...calls, ...sleeps]) await expect(call).rejects.toThrow('interrupted')
    for (const child of children) expect(child.signal.reason).toEqual(new Error('interrupted'))
    expect(abortListeners(controller.signal)).toBe(0)
  })

  it('a call that ends unregisters: nothing grows with the number of calls a command makes', async () => {
    const controller = new AbortController()
    let fired = 0
    for (let i = 0; i < 1000; i++) {
      await abortable(Promise.resolve(i), controller.signal)
      await expect(abortable(Promise.reject(new Error('no')), controller.signal)).rejects.toThrow('no')
      const child = childSignal(controller.signal)
      child.release()
      onAbort(controller.signal, () => fired++)()
    }
    controller.abort()
    expect(fired).toBe(0)
  })

  it('an already aborted signal runs the callback at once and registers nothing', () => {
    const controller = new AbortController()
    controller.abort(new Error('gone'))
    let fired = 0
    onAbort(controller.signal, () => fired++)
    expect(fired).toBe(1)
    expect(childSignal(controller.signal).signal.reason).toEqual(new Error('gone'))
    expect(abortListeners(controller.signal)).toBe(0)
  })

  it('retries sleeping on one signal stop together, with its reason', async () => {
    const controller = new AbortController()
    const failing = () => Promise.reject(Object.assign(new Error('reset'), {code: 'ECONNRESET'}))
    const retries = Array.from({length: 30}, () =>
      withRetry(failing, {retryable: () => true, attempts: 10, baseDelayMs: 60_000, signal: controller.signal}).catch((e: unknown) => e),
    )
    // Every retry is now asleep on the signal (its first attempt failed at once).
    await new Promise((resolve) => setImmediate(resolve))
    expect(abortListeners(controller.signal)).toBe(1)
    controller.abort(new Error('interrupted'))
    for (const error of await Promise.all(retries)) expect(error).toEqual(new Error('interrupted'))
  })
})
