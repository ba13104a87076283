import {describe, expect, it} from 'vitest'
import {decodeEntry, encodeEntry, type Entry} from '../../src/tree/entry.js'

describe('encodeEntry', () => {
  it('gives equal bytes for equal entries, whatever their key order or undefined fields', () => {
    const mac = Buffer.alloc(32, 1)
    const fresh: Entry = {info: {type: 'file', size: 3, mode: 0o644, mtime: 1.5, contentType: 'text/plain'}, contentMac: mac, chunks: [[mac, 3]]}
    const copied: Entry = {
      info: {contentType: 'text/plain', mtime: 1.5, mode: 0o644, size: 3, type: 'file', uid: undefined},
      chunks: [[mac, 3]],
      object: undefined,
      contentMac: mac,
    }
    expect(encodeEntry(copied).equals(encodeEntry(fresh))).toBe(true)
    expect(decodeEntry(encodeEntry(copied))).toEqual(decodeEntry(encodeEntry(fresh)))
    expect(Object.keys(decodeEntry(encodeEntry(copied)))).toEqual(['info', 'chunks', 'contentMac'])
  })
})
