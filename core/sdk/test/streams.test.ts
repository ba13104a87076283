import {Readable} from 'node:stream'
import {describe, expect, it} from 'vitest'
import {readAll} from '../src/streams.js'

const pieces = () => Readable.from([Buffer.from('abc'), Buffer.from('defg'), Buffer.from('h')])

describe('readAll', () => {
  it('concatenates the pieces of a stream of unknown size', async () => {
    expect((await readAll(pieces())).toString()).toBe('abcdefgh')
  })

  it('with the size known, fills one buffer of exactly that size (movable to a worker)', async () => {
    const all = await readAll(pieces(), 8)
    expect(all.toString()).toBe('abcdefgh')
    expect(all.byteOffset).toBe(0)
    expect(all.buffer.byteLength).toBe(8)
  })

  it('refuses a stream shorter or longer than the size expected', async () => {
    await expect(readAll(pieces(), 9)).rejects.toMatchObject({code: 'ESHORTREAD'})
    await expect(readAll(pieces(), 5)).rejects.toMatchObject({code: 'ESHORTREAD'})
  })
})
