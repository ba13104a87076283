import {FormatTooNewError, IntegrityError} from '@plakar/sdk'
import {describe, expect, it} from 'vitest'
import {encode} from '../../src/format/codec.js'
import {contentKey, decodeEntry, encodeEntry, ENTRY_VERSION, sameContent, type Entry} from '../../src/tree/entry.js'

const id = (byte: number) => Buffer.alloc(32, byte)

describe('encodeEntry', () => {
  it('gives equal bytes for equal entries, whatever their key order or undefined fields', () => {
    const fresh: Entry = {info: {type: 'file', size: 3, mode: 0o644, mtime: 1.5, contentType: 'text/plain'}, chunks: [[id(1), 3]]}
    const copied: Entry = {
      info: {contentType: 'text/plain', mtime: 1.5, mode: 0o644, size: 3, type: 'file', uid: undefined},
      chunks: [[id(1), 3]],
      object: undefined,
    }
    expect(encodeEntry(copied).equals(encodeEntry(fresh))).toBe(true)
    expect(decodeEntry(encodeEntry(copied))).toEqual(decodeEntry(encodeEntry(fresh)))
    expect(Object.keys(decodeEntry(encodeEntry(copied)))).toEqual(['info', 'chunks'])
  })

  it('writes version 2, without a contentMac even when one is handed in', () => {
    const legacy = {info: {type: 'file', size: 3}, chunks: [[id(1), 3]], contentMac: id(9)} as Entry
    const bytes = encodeEntry(legacy)
    expect(ENTRY_VERSION).toBe(2)
    expect(bytes[1]).toBe(2)
    expect(bytes.includes(id(9))).toBe(false)
  })
})

describe('decodeEntry', () => {
  // A version 1 entry as plakar wrote it before 2026-12-03: its contentMac is dropped on read.
  const v1 = encode([1, {info: {type: 'file', size: 3, mode: 0o644}, chunks: [[id(1), 3]], contentMac: id(7)}])

  it('reads version 1 entries, and compares their content with version 2 entries', () => {
    const old = decodeEntry(v1)
    expect(Object.keys(old)).toEqual(['info', 'chunks'])
    const now = decodeEntry(encodeEntry({info: {type: 'file', size: 3, mode: 0o644}, chunks: [[id(1), 3]]}))
    expect(sameContent(old, now)).toBe(true)
    expect(contentKey(old)).toBe(contentKey(now))
  })

  it('refuses a newer version with the upgrade message, and version 0 as damage', () => {
    expect(() => decodeEntry(encode([3, {info: {type: 'file', size: 0}}]))).toThrow(FormatTooNewError)
    expect(() => decodeEntry(encode([3, {info: {type: 'file', size: 0}}]))).toThrow(/format version 3 but this plakar reads up to 2: upgrade plakar/)
    expect(() => decodeEntry(encode([0, {info: {type: 'file', size: 0}}]))).toThrow(IntegrityError)
    expect(() => decodeEntry(encode([1, null]))).toThrow(IntegrityError)
  })
})

describe('sameContent and contentKey', () => {
  const file = (extra: Partial<Entry>): Entry => ({info: {type: 'file', size: 6}, ...extra})
  const cases: Array<[string, Entry, Entry, boolean]> = [
    ['the same chunks', file({chunks: [[id(1), 3], [id(2), 3]]}), file({chunks: [[id(1), 3], [id(2), 3]]}), true],
    ['one chunk differs', file({chunks: [[id(1), 3], [id(2), 3]]}), file({chunks: [[id(1), 3], [id(3), 3]]}), false],
    ['the same chunks in another order', file({chunks: [[id(1), 3], [id(2), 3]]}), file({chunks: [[id(2), 3], [id(1), 3]]}), false],
    ['a chunk more', file({chunks: [[id(1), 3]]}), file({chunks: [[id(1), 3], [id(1), 3]]}), false],
    ['two empty files', file({}), file({chunks: []}), true],
    ['the same object', file({object: id(4)}), file({object: id(4)}), true],
    ['another object', file({object: id(4)}), file({object: id(5)}), false],
    ['an object and a chunk list', file({object: id(4)}), file({chunks: [[id(4), 6]]}), false],
    ['an unreadable file', file({error: 'permission denied'}), file({error: 'permission denied'}), false],
  ]
  it.each(cases)('%s', (_name, a, b, same) => {
    expect(sameContent(a, b)).toBe(same)
    expect(sameContent(b, a)).toBe(same)
    expect(contentKey(a) === contentKey(b)).toBe(same || a.error !== undefined)
  })
})
