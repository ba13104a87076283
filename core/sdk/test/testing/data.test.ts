import {describe, expect, it} from 'vitest'
import {collect, digestStream, mapLimit, pseudoRandomBytes, pseudoRandomDigest, pseudoRandomStream} from '../../src/testing/data.js'
import {fixtureContent, fixtureSize, oddFileNames} from '../../src/testing/fixture.js'

describe('conformance-suite data helpers', () => {
  const whole = pseudoRandomBytes('seed', 0, 100_000)

  it('any slice equals the same bytes of the whole content', () => {
    for (const [offset, length] of [[0, 1], [1, 15], [15, 2], [16, 16], [17, 4099], [99_999, 1], [50_000, 0], [12_345, 54_321]]) {
      expect(pseudoRandomBytes('seed', offset, length).equals(whole.subarray(offset, offset + length)), `${offset}+${length}`).toBe(true)
    }
  })

  it('the stream yields the same bytes, in bounded chunks, from any offset', async () => {
    expect((await collect(pseudoRandomStream('seed', 100_000, {chunkSize: 4096}))).equals(whole)).toBe(true)
    expect((await collect(pseudoRandomStream('seed', 10_007, {offset: 333, chunkSize: 1000}))).equals(whole.subarray(333, 10_340))).toBe(true)
    let largest = 0
    for await (const chunk of pseudoRandomStream('seed', 3 * 1024 * 1024 + 1)) largest = Math.max(largest, (chunk as Buffer).length)
    expect(largest).toBe(1024 * 1024)
    expect(await collect(pseudoRandomStream('seed', 0))).toEqual(Buffer.alloc(0))
  })

  it('is deterministic per seed, and seeds differ', async () => {
    expect(pseudoRandomBytes('seed', 0, 64).equals(pseudoRandomBytes('seed', 0, 64))).toBe(true)
    expect(pseudoRandomBytes('seed', 0, 64).equals(pseudoRandomBytes('other', 0, 64))).toBe(false)
    expect(pseudoRandomBytes(1, 0, 64).equals(pseudoRandomBytes('1', 0, 64))).toBe(true)
    expect(await pseudoRandomDigest('seed', 100_000)).toEqual(await digestStream([whole]))
  })

  it('fixture contents come from content or from size and seed', async () => {
    expect((await collect(fixtureContent({type: 'file', path: 'a', content: 'héllo'}))).toString()).toBe('héllo')
    expect(fixtureSize({type: 'file', path: 'a', content: 'héllo'})).toBe(6)
    expect((await collect(fixtureContent({type: 'file', path: 'a', size: 500, seed: 'seed'}))).equals(whole.subarray(0, 500))).toBe(true)
    expect(fixtureSize({type: 'file', path: 'a'})).toBe(0)
  })

  it('odd names are single, valid, distinct path components', () => {
    const names = oddFileNames({newline: true})
    expect(new Set(names).size).toBe(names.length)
    for (const name of names) {
      expect(name.includes('/') || name.includes('\0') || name === '.' || name === '..').toBe(false)
      expect(Buffer.byteLength(name)).toBeLessThanOrEqual(255)
    }
    expect(oddFileNames().some((n) => n.includes('\n'))).toBe(false)
  })

  it('mapLimit keeps order, bounds concurrency and stops on the first error', async () => {
    let running = 0
    let peak = 0
    const out = await mapLimit([5, 1, 4, 2, 3], 2, async (n) => {
      peak = Math.max(peak, ++running)
      await new Promise((r) => setTimeout(r, n))
      running--
      return n * 10
    })
    expect(out).toEqual([50, 10, 40, 20, 30])
    expect(peak).toBe(2)
    await expect(mapLimit([1, 2, 3], 2, async (n) => {
      if (n === 2) throw new Error('two')
      return n
    })).rejects.toThrow('two')
  })
})
