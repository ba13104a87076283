import {describe, expect, it} from 'vitest'
import {connectionSettings} from '../src/connection.js'
import {isTransient, translate} from '../src/errors.js'
import {decodeListedKey} from '../src/listing.js'
import {formatBucketLocation, parseBucketLocation} from '../src/location.js'
import {partSizeFor} from '../src/upload.js'

const sdkError = (name: string, status?: number, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(name), {name, $metadata: status ? {httpStatusCode: status} : {}, ...extra})

describe('bucket locations', () => {
  it('parses host, port, bucket and prefix', () => {
    expect(parseBucketLocation('s3://127.0.0.1:7480/bucket', 's3')).toEqual({scheme: 's3', host: '127.0.0.1', port: 7480, bucket: 'bucket', prefix: ''})
    expect(parseBucketLocation('s3://s3.eu-west-3.amazonaws.com/my.bucket/a/b/', 's3')).toEqual({
      scheme: 's3',
      host: 's3.eu-west-3.amazonaws.com',
      port: undefined,
      bucket: 'my.bucket',
      prefix: 'a/b',
    })
    // The prefix is verbatim: % and + are key characters.
    expect(parseBucketLocation('s3://h/bkt/100%25 done+x', 's3').prefix).toBe('100%25 done+x')
    expect(formatBucketLocation(parseBucketLocation('s3://h:9000/bkt//p//q/', 's3'))).toBe('s3://h:9000/bkt/p/q')
    // The scheme is the connector's: glacier:// parses the same way, s3:// is not glacier://.
    expect(formatBucketLocation(parseBucketLocation('glacier://h//bkt//p/', 'glacier'))).toBe('glacier://h/bkt/p')
    expect(() => parseBucketLocation('s3://h/bkt', 'glacier')).toThrow(/not a glacier:\/\/ location/)
  })

  it('refuses malformed locations and credentials in them, without echoing secrets', () => {
    expect(() => parseBucketLocation('s3://h', 's3')).toThrow(/no bucket/)
    expect(() => parseBucketLocation('s3://h/B', 's3')).toThrow(/not a valid bucket name/)
    expect(() => parseBucketLocation('s3:///bkt', 's3')).toThrow(/no host/)
    let message = ''
    try {
      parseBucketLocation('s3://AKID:SuperSecret@h/bkt', 's3')
    } catch (error) {
      message = (error as Error).message
    }
    expect(message).toMatch(/not accepted in the location/)
    expect(message).not.toContain('SuperSecret')
  })

  it('derives endpoint, region and addressing style', () => {
    const aws = connectionSettings(parseBucketLocation('s3://s3.eu-west-3.amazonaws.com/b1x', 's3'), {}, {})
    expect(aws).toMatchObject({endpoint: 'https://s3.eu-west-3.amazonaws.com', region: 'eu-west-3', pathStyle: false})
    expect(aws.credentials).toBeUndefined()
    const local = connectionSettings(parseBucketLocation('s3://127.0.0.1:7480/b1x', 's3'), {use_tls: false, access_key: 'a', secret_access_key: 's'}, {AWS_REGION: 'x-1'})
    expect(local).toMatchObject({endpoint: 'http://127.0.0.1:7480', region: 'x-1', pathStyle: true, credentials: {accessKeyId: 'a', secretAccessKey: 's'}})
  })
})

describe('s3 error classes', () => {
  it('retries transient errors only', () => {
    for (const e of [
      sdkError('SlowDown', 503),
      sdkError('InternalError', 500),
      sdkError('ServiceUnavailable', 503),
      sdkError('RequestTimeout', 400),
      sdkError('BadDigest', 400),
      sdkError('TooManyRequests', 429),
      Object.assign(new Error('read ECONNRESET'), {code: 'ECONNRESET'}),
      Object.assign(new Error('timed out'), {name: 'TimeoutError'}),
      Object.assign(new Error('socket hang up'), {code: 'ECONNRESET'}),
    ]) {
      expect(isTransient(e), e.name).toBe(true)
    }
    for (const e of [
      sdkError('AccessDenied', 403),
      sdkError('Forbidden', 403),
      sdkError('SignatureDoesNotMatch', 403),
      sdkError('NoSuchKey', 404),
      sdkError('NotFound', 404),
      sdkError('NoSuchBucket', 404),
      sdkError('NotImplemented', 501),
      sdkError('InvalidRange', 416),
    ]) {
      expect(isTransient(e), e.name).toBe(false)
    }
  })

  it('gives one line with the right exit code', () => {
    const ctx = {what: 'listing s3://h/b', endpoint: 'http://h', bucket: 'b', attempts: 6}
    expect(translate(sdkError('NoSuchBucket', 404), ctx).plakarExitCode).toBe(66)
    expect(translate(sdkError('InvalidAccessKeyId', 403), ctx).plakarExitCode).toBe(77)
    expect(translate(sdkError('SignatureDoesNotMatch', 403), ctx).plakarExitCode).toBe(77)
    const refused = translate(Object.assign(new Error('connect ECONNREFUSED'), {code: 'ECONNREFUSED'}), ctx)
    expect(refused.plakarExitCode).toBe(1)
    expect(refused.message).toBe('cannot reach http://h while listing s3://h/b: connection refused (after 6 attempts)')
    expect(translate(sdkError('InternalError', 500), ctx).message.split('\n')).toHaveLength(1)
  })
})

describe('listings and uploads', () => {
  it('decodes url-encoded listings', () => {
    expect(decodeListedKey('p%2Fsp%20ace%2Bplus%2525', 'url')).toBe('p/sp ace+plus%25')
    expect(decodeListedKey('p/sp+ace', 'url')).toBe('p/sp ace')
    expect(decodeListedKey('p/100%', undefined)).toBe('p/100%')
  })

  it('sizes parts within S3 limits', () => {
    expect(partSizeFor(undefined)).toBe(8 * 1024 * 1024)
    expect(partSizeFor(1e12) * 10_000).toBeGreaterThanOrEqual(1e12)
    expect(partSizeFor(10, 1)).toBe(5 * 1024 * 1024)
  })
})
