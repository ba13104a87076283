import {mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {listSorted} from '../src/sorted-listing.js'

describe('listSorted', () => {
  const root = mkdtempSync(join(tmpdir(), 'plakar-listing-'))
  const dir = join(root, 'dir')
  const spill = join(root, 'spill')
  mkdirSync(dir)
  mkdirSync(spill)
  // Names whose UTF-8 byte order differs from JavaScript's string order (an astral character
  // sorts after U+FFFD in bytes, before it in UTF-16), plus plain ones.
  const names = ['z', 'a', 'é', '\u{1F600}', '\uFFFD', 'a b', '#1', '%2', '-x', ...Array.from({length: 1200}, (_, i) => `f${(i * 7919) % 1200}`)]
  for (const name of names) writeFileSync(join(dir, name), '')
  const expected = [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
  afterAll(() => rmSync(root, {recursive: true, force: true}))

  it('lists a small directory in UTF-8 byte order, in memory', () => {
    const {names: listed, failure} = listSorted(dir, spill)
    expect(failure).toBeUndefined()
    expect([...listed]).toEqual(expected)
    expect(readdirSync(spill)).toEqual([])
  })

  it('sorts a large directory through runs on disk and removes them', () => {
    const {names: listed} = listSorted(dir, spill, 100)
    expect([...listed]).toEqual(expected)
    expect(readdirSync(spill)).toEqual([])
  })

  it('removes its runs when the reader stops early', () => {
    const {names: listed} = listSorted(dir, spill, 100)
    for (const name of listed) if (name === 'f500') break
    expect(readdirSync(spill)).toEqual([])
  })
})
