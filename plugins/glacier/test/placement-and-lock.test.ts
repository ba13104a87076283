import {randomBytes} from 'node:crypto'
import {Readable} from 'node:stream'
import {DeleteObjectCommand, GetObjectCommand, PutObjectCommand, PutObjectLegalHoldCommand} from '@aws-sdk/client-s3'
import {isRetained, readAll, type Kind, type PutOptions} from '@plakar/sdk'
import {afterAll, beforeAll, expect, it} from 'vitest'
import createStorage, {type GlacierStorage} from '../src/storage.js'
import {config, context, createBucket, describeRgw, glacierLocation, head, listVersions, rawClient, removePrefix, uniqueName} from './glacier.js'

const id = () => randomBytes(32).toString('hex')
const put = (s: GlacierStorage, kind: Kind, oid: string, data: Buffer, options?: PutOptions) => s.put(kind, oid, Readable.from([data]), data.length, options)
const packKey = (prefix: string, oid: string) => `${prefix}/packfiles/${oid.slice(0, 2)}/${oid}`

describeRgw('glacier storage: classes and Object Lock on radosgw', () => {
  const plain = uniqueName('plakar-glacier-plain')
  const locked = uniqueName('plakar-glacier-lock')
  beforeAll(async () => {
    await createBucket(plain)
  })
  afterAll(() => removePrefix(plain))

  for (const coldClass of ['GLACIER', 'DEEP_ARCHIVE', 'GLACIER_IR']) {
    it(`data packfiles go to ${coldClass}; config, states, locks and meta packfiles stay hot`, async () => {
      const prefix = uniqueName('repo')
      const s = await createStorage(context(glacierLocation(plain, prefix), config({storage_class: coldClass})))
      try {
        await s.create(randomBytes(64))
        const [data, meta, legacy, state, lock] = [id(), id(), id(), id(), id()]
        await put(s, 'packfile', data, randomBytes(1000), {packfileKind: 'data'})
        await put(s, 'packfile', meta, randomBytes(1000), {packfileKind: 'meta'})
        await put(s, 'packfile', legacy, randomBytes(1000))
        await put(s, 'state', state, randomBytes(100))
        await put(s, 'lock', lock, randomBytes(10))
        const cls = async (key: string) => (await head(plain, key)).StorageClass ?? 'STANDARD'
        expect(await cls(packKey(prefix, data))).toBe(coldClass)
        expect(await cls(packKey(prefix, meta))).toBe('STANDARD')
        expect(await cls(packKey(prefix, legacy)), 'a packfile without a kind stays hot').toBe('STANDARD')
        expect(await cls(`${prefix}/states/${state}`)).toBe('STANDARD')
        expect(await cls(`${prefix}/locks/${lock}`)).toBe('STANDARD')
        expect(await cls(`${prefix}/CONFIG`)).toBe('STANDARD')
        const status = await s.restoreStatus('packfile', data)
        expect(status.state).toBe(coldClass === 'GLACIER_IR' ? 'hot' : 'archived')
        expect((await s.restoreStatus('packfile', meta)).state).toBe('hot')
      } finally {
        await s.close()
      }
    })
  }

  it('refuses lock_mode on a bucket without Object Lock, with one line saying what to do', async () => {
    const s = await createStorage(context(glacierLocation(plain, uniqueName('repo')), config({lock_mode: 'COMPLIANCE', lock_days: 1})))
    try {
      await expect(s.create(randomBytes(10))).rejects.toThrow(/has no Object Lock.*use a bucket created with Object Lock/)
      await expect(s.open()).rejects.toThrow(/has no Object Lock/)
    } finally {
      await s.close()
    }
  })

  it('creates a bucket with Object Lock and locks every object but the repository locks', async () => {
    const prefix = uniqueName('repo')
    const s = await createStorage(context(glacierLocation(locked, prefix), config({lock_mode: 'COMPLIANCE', lock_days: 2})))
    try {
      await s.create(randomBytes(64))
      expect(s.capabilities()).toEqual({write: true, delete: true, cold: true, worm: true})
      const [data, state, lock] = [id(), id(), id()]
      await put(s, 'packfile', data, randomBytes(2000), {packfileKind: 'data'})
      await put(s, 'state', state, randomBytes(100))
      await put(s, 'lock', lock, randomBytes(10))
      const h = await head(locked, packKey(prefix, data))
      expect(h.ObjectLockMode).toBe('COMPLIANCE')
      const until = h.ObjectLockRetainUntilDate!.getTime()
      expect(Math.abs(until - (Date.now() + 2 * 86_400_000))).toBeLessThan(600_000)
      expect((await head(locked, `${prefix}/CONFIG`)).ObjectLockMode).toBe('COMPLIANCE')
      expect((await head(locked, `${prefix}/locks/${lock}`)).ObjectLockMode, 'locks are deleted after each command').toBeUndefined()

      // The plugin refuses to delete, without asking the server, and says until when.
      const error = await s.delete('packfile', data).then(
        () => undefined,
        (e) => e,
      )
      expect(isRetained(error), String(error)).toBe(true)
      expect(error.until).toBe(until)
      expect(error.message).toMatch(/locked \(COMPLIANCE\) until \d{4}-\d\d-\d\d: kept/)
      // The lock is deleted for good: no version and no delete marker left.
      await s.delete('lock', lock)
      expect(await listVersions(locked, `${prefix}/locks/`)).toEqual([])

      // The server itself refuses, with the plugin's own credentials, to delete the locked
      // version. A put through the plugin stores nothing new (the id is there); a raw PUT over
      // the key only adds a version on top: the locked bytes stay, readable by version id.
      const version = (await listVersions(locked, packKey(prefix, data)))[0]
      await expect(rawClient().send(new DeleteObjectCommand({Bucket: locked, Key: version.key, VersionId: version.versionId}))).rejects.toMatchObject({
        name: 'AccessDenied',
      })
      const before = await readAll(await s.get('packfile', data))
      await put(s, 'packfile', data, randomBytes(2000), {packfileKind: 'data'})
      expect(Buffer.compare(await readAll(await s.get('packfile', data)), before)).toBe(0)
      expect((await listVersions(locked, packKey(prefix, data))).length, 'no second version').toBe(1)
      await rawClient().send(new PutObjectCommand({Bucket: locked, Key: version.key, Body: Buffer.from('overwritten')}))
      const original = await rawClient().send(new GetObjectCommand({Bucket: locked, Key: version.key, VersionId: version.versionId}))
      expect(Buffer.compare(Buffer.from(await original.Body!.transformToByteArray()), before)).toBe(0)
      await expect(rawClient().send(new DeleteObjectCommand({Bucket: locked, Key: version.key, VersionId: version.versionId}))).rejects.toMatchObject({
        name: 'AccessDenied',
      })

      // Retention is extended, never shortened.
      const later = until + 5 * 86_400_000
      await s.extendRetention('packfile', [data], later)
      expect((await s.retention('packfile', data)).until).toBe(later)
      await s.extendRetention('packfile', [data], until)
      expect((await s.retention('packfile', data)).until).toBe(later)
      expect(s.wormSettings()).toEqual({mode: 'COMPLIANCE', days: 2})
    } finally {
      await s.close()
    }
  })

  it('keeps an object under a legal hold until the hold is lifted; the server refuses too', async () => {
    const held = uniqueName('plakar-glacier-hold')
    await createBucket(held, true)
    const prefix = uniqueName('repo')
    // No lock_mode: objects get no retention, so only the legal hold keeps this one.
    const s = await createStorage(context(glacierLocation(held, prefix), config({storage_class: 'GLACIER_IR'})))
    try {
      await s.create(randomBytes(64))
      const data = id()
      await put(s, 'packfile', data, randomBytes(1000), {packfileKind: 'meta'})
      const key = packKey(prefix, data)
      const hold = (Status: 'ON' | 'OFF') => rawClient().send(new PutObjectLegalHoldCommand({Bucket: held, Key: key, LegalHold: {Status}}))
      await hold('ON')
      expect((await s.retention('packfile', data)).legalHold).toBe(true)
      const error = await s.delete('packfile', data).catch((e) => e)
      expect(isRetained(error), String(error)).toBe(true)
      expect(error.message).toMatch(/under a legal hold: it cannot be deleted until the hold is lifted/)
      const version = (await listVersions(held, key))[0]
      await expect(rawClient().send(new DeleteObjectCommand({Bucket: held, Key: key, VersionId: version.versionId}))).rejects.toMatchObject({name: 'AccessDenied'})
      await hold('OFF')
      await s.delete('packfile', data)
      expect(await listVersions(held, key), 'every version goes').toEqual([])
    } finally {
      await s.close()
      await removePrefix(held)
    }
  })

  it('keeps cold objects for their minimum storage duration unless early_delete is set', async () => {
    const prefix = uniqueName('repo')
    const s = await createStorage(context(glacierLocation(plain, prefix), config({storage_class: 'DEEP_ARCHIVE'})))
    const early = await createStorage(context(glacierLocation(plain, prefix), config({storage_class: 'DEEP_ARCHIVE', early_delete: true})))
    try {
      await s.create(randomBytes(64))
      const [data, meta] = [id(), id()]
      await put(s, 'packfile', data, randomBytes(500), {packfileKind: 'data'})
      await put(s, 'packfile', meta, randomBytes(500), {packfileKind: 'meta'})
      const r = await s.retention('packfile', data)
      const error = await s.delete('packfile', data).catch((e) => e)
      expect(isRetained(error)).toBe(true)
      expect(error.until).toBe(r.minimumUntil)
      expect(error.message).toMatch(/DEEP_ARCHIVE, charged for at least 180 days: kept until .*early_delete=true/)
      await s.delete('packfile', meta)
      await early.delete('packfile', data)
      await expect(s.stat('packfile', data)).rejects.toMatchObject({notFound: true})
    } finally {
      await s.close()
      await early.close()
    }
  })
})
