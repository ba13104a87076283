import {describe, expect, it} from 'vitest'
import {parseBucketLocation} from '@plakar/s3-client'
import {settingsFor} from '../src/options.js'
import {tiersFor} from '../src/prices.js'
import {parseRestoreHeader, thawStatusOf} from '../src/storage.js'

describe('glacier locations and options', () => {
  // Locations are parsed by @plakar/s3-client (lib/s3-client/test/unit.test.ts), glacier:// too.
  it('defaults: GLACIER for data, no lock, Standard thaws for 7 days', () => {
    const s = settingsFor(parseBucketLocation('glacier://h/bkt', 'glacier'), {})
    expect(s).toMatchObject({coldClass: 'GLACIER', hotClass: undefined, lockMode: undefined, lockDays: 0, thawTier: 'Standard', thawDays: 7, earlyDelete: false})
    expect(settingsFor(parseBucketLocation('glacier://h/bkt', 'glacier'), {lock_mode: 'COMPLIANCE'}).lockDays).toBe(30)
    expect(() => settingsFor(parseBucketLocation('glacier://h/bkt', 'glacier'), {lock_days: 3})).toThrow(/lock_days needs lock_mode/)
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
