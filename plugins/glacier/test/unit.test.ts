import {describe, expect, it} from 'vitest'
import {formatGlacierLocation, parseGlacierLocation} from '../src/location.js'
import {settingsFor} from '../src/options.js'
import {tiersFor} from '../src/prices.js'
import {parseRestoreHeader, thawStatusOf} from '../src/storage.js'

describe('glacier locations and options', () => {
  it('parses glacier://host[:port]/bucket[/prefix] and refuses credentials in it', () => {
    expect(parseGlacierLocation('glacier://127.0.0.1:7480/vault/a/b/')).toEqual({host: '127.0.0.1', port: 7480, bucket: 'vault', prefix: 'a/b'})
    expect(formatGlacierLocation(parseGlacierLocation('glacier://h//bkt//p/'))).toBe('glacier://h/bkt/p')
    expect(() => parseGlacierLocation('glacier://key:secret@h/bkt')).toThrow(/not accepted in the location/)
    expect(() => parseGlacierLocation('s3://h/bkt')).toThrow(/not a glacier location/)
    expect(() => parseGlacierLocation('glacier://h')).toThrow(/no bucket/)
  })

  it('defaults: GLACIER for data, no lock, Standard thaws for 7 days', () => {
    const s = settingsFor(parseGlacierLocation('glacier://h/bkt'), {})
    expect(s).toMatchObject({coldClass: 'GLACIER', hotClass: undefined, lockMode: undefined, lockDays: 0, thawTier: 'Standard', thawDays: 7, earlyDelete: false})
    expect(settingsFor(parseGlacierLocation('glacier://h/bkt'), {lock_mode: 'COMPLIANCE'}).lockDays).toBe(30)
    expect(() => settingsFor(parseGlacierLocation('glacier://h/bkt'), {lock_days: 3})).toThrow(/lock_days needs lock_mode/)
  })
})

describe('x-amz-restore and thaw states', () => {
  it('reads the header as AWS documents it', () => {
    expect(parseRestoreHeader(undefined)).toBeUndefined()
    expect(parseRestoreHeader('ongoing-request="true"')).toEqual({ongoing: true, expires: undefined})
    expect(parseRestoreHeader('ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"')).toEqual({
      ongoing: false,
      expires: Date.UTC(2012, 11, 21),
    })
  })

  it('maps class and header to a state', () => {
    expect(thawStatusOf({})).toEqual({state: 'hot', storageClass: 'STANDARD'})
    expect(thawStatusOf({StorageClass: 'GLACIER_IR'}).state).toBe('hot')
    expect(thawStatusOf({StorageClass: 'GLACIER'}).state).toBe('archived')
    expect(thawStatusOf({StorageClass: 'DEEP_ARCHIVE', Restore: 'ongoing-request="true"'}).state).toBe('in-progress')
    expect(thawStatusOf({StorageClass: 'GLACIER', Restore: 'ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"'})).toEqual({
      state: 'available',
      storageClass: 'GLACIER',
      expires: Date.UTC(2012, 11, 21),
    })
  })

  it('prices: three tiers for GLACIER, two for DEEP_ARCHIVE, none for GLACIER_IR', () => {
    expect(tiersFor('GLACIER').map((t) => t.name)).toEqual(['Expedited', 'Standard', 'Bulk'])
    expect(tiersFor('DEEP_ARCHIVE').map((t) => t.name)).toEqual(['Standard', 'Bulk'])
    expect(tiersFor('GLACIER_IR')).toEqual([])
  })
})
