import {Readable} from 'node:stream'
import {isColdStorage, type CallOptions, type Storage} from '@plakar/sdk'
import {describe, expect, it} from 'vitest'
import {withSignal} from '../../src/repository/signal-storage.js'
import {MemoryStorage} from '../memory-storage.js'

/** Records the options each call received. */
function spy(storage: Storage): {storage: Storage; seen: Record<string, CallOptions | undefined>} {
  const seen: Record<string, CallOptions | undefined> = {}
  const at: Record<string, number> = {create: 1, open: 0, list: 1, put: 4, get: 3, stat: 2, delete: 2}
  const wrapped = new Proxy(storage, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown
      if (typeof value !== 'function' || typeof property !== 'string' || !(property in at)) return value
      return (...args: unknown[]) => {
        seen[property] = args[at[property]!] as CallOptions | undefined
        return (value as (...a: unknown[]) => unknown).apply(target, args)
      }
    },
  })
  return {storage: wrapped, seen}
}

describe('withSignal', () => {
  const id = 'ab'.repeat(32)

  it("gives the command's signal to every call that has none, in the options' place", async () => {
    const {storage, seen} = spy(new MemoryStorage())
    const signal = new AbortController().signal
    const bound = withSignal(storage, signal)
    await bound.create(new Uint8Array([1]))
    await bound.open()
    await bound.put('packfile', id, Readable.from([Buffer.from('x')]), 1, {packfileKind: 'data'})
    await bound.get('packfile', id)
    await bound.stat('packfile', id)
    for await (const _ of bound.list('packfile'));
    await bound.delete('packfile', id)
    for (const name of ['create', 'open', 'put', 'get', 'stat', 'list', 'delete']) expect(seen[name]?.signal, name).toBe(signal)
    // The caller's own options are kept beside it.
    expect(seen.put).toMatchObject({packfileKind: 'data', signal})
  })

  it('keeps a signal the caller gave, and the storage members as they are', async () => {
    const {storage, seen} = spy(new MemoryStorage())
    const bound = withSignal(storage, new AbortController().signal)
    const own = new AbortController().signal
    await bound.create(new Uint8Array([1]), {signal: own})
    expect(seen.create?.signal).toBe(own)
    expect(bound.location).toBe('memory:')
    expect(bound.capabilities().write).toBe(true)
    expect(isColdStorage(bound)).toBe(false)
  })
})
