import {describe, expect, it} from 'vitest'
import {checkObjectId, idFromListedKey, isObjectId, objectDirectory, objectKey} from '../src/layout.js'

const id = 'ab' + '0123456789abcdef'.repeat(3) + '0123456789abcd'

describe('object layout', () => {
  it('shards packfiles by the first two hex digits and keeps states and locks flat', () => {
    expect(objectKey('packfile', id)).toBe(`packfiles/ab/${id}`)
    expect(objectKey('state', id)).toBe(`states/${id}`)
    expect(objectKey('lock', id)).toBe(`locks/${id}`)
    expect(objectDirectory('packfile', id)).toBe('packfiles/ab')
  })

  it('refuses ids and kinds that could name something else', () => {
    for (const bad of ['../CONFIG', 'AB' + id.slice(2), 'abc', `${id}/x`, '']) {
      expect(isObjectId(bad)).toBe(false)
      expect(() => objectKey('state', bad)).toThrow(/invalid object id/)
    }
    expect(() => objectKey('blob' as 'state', id)).toThrow(/unknown object kind/)
    expect(checkObjectId(id)).toBe(id)
  })

  it('reads back ids from listed keys and skips strays', () => {
    expect(idFromListedKey('packfile', `ab/${id}`)).toBe(id)
    expect(idFromListedKey('packfile', `cd/${id}`)).toBeUndefined()
    expect(idFromListedKey('packfile', id)).toBeUndefined()
    expect(idFromListedKey('state', id)).toBe(id)
    expect(idFromListedKey('state', `ab/${id}`)).toBeUndefined()
    expect(idFromListedKey('lock', `.${id}.0123456789ab.tmp`)).toBeUndefined()
  })
})
