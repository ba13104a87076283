import {isColdObject, type CallOptions, type Id, type Kind, type PutOptions, type Range} from '@plakar/sdk'
import {testStorage} from '@plakar/sdk/testing'
import type {Readable} from 'node:stream'
import {afterAll, beforeAll, expect, it} from 'vitest'
import {GlacierShim} from '../../../test/support/glacier-shim.js'
import createStorage, {type GlacierStorage} from '../src/storage.js'
import {accessKey, config, context, createBucket, describeRgw, glacierLocation, hostPort, removePrefix, secretKey, uniqueName} from './glacier.js'

describeRgw('glacier storage on radosgw', () => {
  const bucket = uniqueName('plakar-glacier')
  let n = 0
  beforeAll(() => createBucket(bucket))

  // Each test gets its own prefix of one bucket. radosgw serves archive classes directly (it
  // has no archive tier), and the suite stores packfiles without a kind, which stay hot.
  testStorage('glacier (radosgw)', async () => {
    const top = `repo-${++n}`
    const location = glacierLocation(bucket, `${top}/nested`)
    return {
      storage: await createStorage(context(location)),
      reopen: () => createStorage(context(location)),
      cleanup: () => removePrefix(bucket, `${top}/`),
    }
  })
})

/**
 * The same suite with every packfile archived (stored as file content: GLACIER), read through
 * the archive shim in front of radosgw, which refuses a GET until a restore completes. Where the
 * suite reads an archived packfile, the thaw a command would make is simulated: the refusal is
 * caught (cold: true), a restore is asked through the plugin (RestoreObject) and completed at
 * the shim, and the read is made again. early_delete: the suite deletes what it just wrote,
 * which the 90-day minimum of GLACIER would otherwise keep.
 */
describeRgw('glacier storage on radosgw, every packfile archived (thawed where the suite reads)', () => {
  const bucket = uniqueName('plakar-glacier-cold')
  let shim: GlacierShim
  let host = ''
  let n = 0
  beforeAll(async () => {
    await createBucket(bucket)
    shim = new GlacierShim({upstream: hostPort, credentials: {accessKeyId: accessKey, secretAccessKey: secretKey}, delayMs: 'manual'})
    host = await shim.start()
  })
  afterAll(() => shim?.close())

  const archived = (s: GlacierStorage): GlacierStorage =>
    new Proxy(s, {
      get(target, prop) {
        if (prop === 'put') {
          // The suite's own options (its abort signal) go through; packfiles are marked as data.
          return (kind: Kind, id: Id, data: Readable, size: number, options?: PutOptions) =>
            target.put(kind, id, data, size, kind === 'packfile' ? {...options, packfileKind: 'data'} : options)
        }
        if (prop === 'get') {
          return async (kind: Kind, id: Id, range?: Range, options?: CallOptions) => {
            try {
              return await target.get(kind, id, range, options)
            } catch (error) {
              if (!isColdObject(error)) throw error
              await target.requestRestore(kind, [id], {days: 1, tier: 'Expedited'})
              shim.complete()
              return target.get(kind, id, range, options)
            }
          }
        }
        const value = Reflect.get(target, prop, target)
        return typeof value === 'function' ? value.bind(target) : value
      },
    })

  testStorage('glacier (radosgw, archived packfiles)', async () => {
    const top = `repo-${++n}`
    const location = glacierLocation(bucket, `${top}/nested`, host)
    const cfg = config({early_delete: true})
    return {
      storage: archived(await createStorage(context(location, cfg))),
      reopen: async () => archived(await createStorage(context(location, cfg))),
      cleanup: () => removePrefix(bucket, `${top}/`),
    }
  })

  it('the suite read archived packfiles: refused until thawed, then read', () => {
    expect(shim.stats.refusedGets).toBeGreaterThan(0)
    expect(shim.stats.restoresStarted.size).toBeGreaterThan(0)
    process.stdout.write(`figure: conformance on archived packfiles: ${shim.stats.refusedGets} GETs refused until thawed, ${shim.stats.restoresStarted.size} thaws\n`)
  })
})
