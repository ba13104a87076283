import {createHash} from 'node:crypto'
import type {Readable} from 'node:stream'
import {destroyOnAbort, PlakarError} from '@plakar/sdk'
import type {S3Session} from './session.js'

/** Parts of a multipart upload: S3 wants at least 5 MiB but the last, at most 10,000 parts. */
export const MIN_PART_SIZE = 5 * 1024 * 1024
export const DEFAULT_PART_SIZE = 8 * 1024 * 1024
const MAX_PARTS = 10_000
/**
 * Objects of a known size up to this go in one PutObject: a packfile is then one request, not
 * five (create, three parts, complete), with its bytes in memory either way.
 */
export const MAX_SINGLE_PUT = 32 * 1024 * 1024

export interface PutObjectOptions {
  contentType?: string
  metadata?: Record<string, string>
  storageClass?: string
  /** Object Lock of the new object: mode and the date before which it cannot be deleted. */
  lock?: {mode: 'COMPLIANCE' | 'GOVERNANCE'; until: Date}
  /** Exact size: the object is refused (nothing stored) when the stream disagrees. */
  size?: number
  /** Likely size, only to choose the part size. */
  expectedSize?: number
  /** Refuse to overwrite an existing object (If-None-Match: *). */
  createOnly?: boolean
  /** Aborts the upload: requests in flight are cancelled, a multipart upload is aborted. */
  signal?: AbortSignal
  /** Part size of multipart uploads (objects larger than one part use multipart). */
  partSize?: number
  /** Parts of one object uploaded at once. */
  partConcurrency?: number
  /** What is being written, for messages. */
  what: string
}

/** Reads a stream in pieces of exactly `size` bytes (the last one may be shorter). */
class PieceReader {
  readonly #iterator: AsyncIterator<Buffer | string>
  #pending: Buffer[] = []
  #pendingBytes = 0
  #done = false
  total = 0

  constructor(stream: Readable) {
    this.#iterator = (stream as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]()
  }

  /** The next piece, or undefined at the end of the stream. */
  async next(size: number): Promise<Buffer | undefined> {
    while (!this.#done && this.#pendingBytes < size) {
      const {value, done} = await this.#iterator.next()
      if (done) {
        this.#done = true
        break
      }
      const buf = typeof value === 'string' ? Buffer.from(value) : value
      this.#pending.push(buf)
      this.#pendingBytes += buf.length
      this.total += buf.length
    }
    if (this.#pendingBytes === 0) return undefined
    const all = this.#pending.length === 1 ? this.#pending[0] : Buffer.concat(this.#pending, this.#pendingBytes)
    const piece = all.length <= size ? all : all.subarray(0, size)
    const rest = all.length <= size ? undefined : all.subarray(size)
    this.#pending = rest ? [rest] : []
    this.#pendingBytes = rest?.length ?? 0
    return piece
  }

  async cancel(): Promise<void> {
    await this.#iterator.return?.().catch(() => {})
  }
}

function md5(data: Buffer): string {
  return createHash('md5').update(data).digest('base64')
}

/** Part size for an object of `size` bytes: the default, grown to stay within 10,000 parts. */
export function partSizeFor(size: number | undefined, requested = DEFAULT_PART_SIZE): number {
  const wanted = Math.max(MIN_PART_SIZE, requested)
  if (size === undefined) return wanted
  return Math.max(wanted, Math.ceil(size / MAX_PARTS / (1024 * 1024)) * 1024 * 1024)
}

/**
 * Stores `data` under `key`, atomically: one PutObject when its size is known and at most
 * MAX_SINGLE_PUT or when it fits in a part, else a multipart upload with parts sent in
 * parallel, each one retried on its own, completed only when every part is in (an aborted
 * upload leaves no object). Every body's SHA-256 is signed, so a body damaged on the way is
 * refused by the server and sent again; puts with Object Lock also carry the Content-MD5 S3
 * requires of them.
 */
export async function putObject(session: S3Session, key: string, data: Readable, options: PutObjectOptions): Promise<void> {
  const partSize = partSizeFor(options.size ?? options.expectedSize, options.partSize)
  // An abort destroys the source too, so a put waiting for its next part ends at once.
  destroyOnAbort(data, options.signal)
  const reader = new PieceReader(data)
  // Every request but the final AbortMultipartUpload, which must run after an abort too.
  const call = {signal: options.signal}
  const lockMd5 = (body: Buffer) => (options.lock ? {ContentMD5: md5(body)} : {})
  const common = {
    Bucket: session.bucket,
    Key: key,
    ContentType: options.contentType,
    Metadata: options.metadata,
    StorageClass: options.storageClass as never,
    ...(options.lock ? {ObjectLockMode: options.lock.mode, ObjectLockRetainUntilDate: options.lock.until} : {}),
  }
  const checkSize = () => {
    if (options.size !== undefined && reader.total !== options.size) {
      throw new PlakarError(`${options.what}: expected ${options.size} bytes, the stream gave ${reader.total}${reader.total > options.size ? ' or more' : ''}`)
    }
  }
  // A known size up to MAX_SINGLE_PUT is read whole (one byte more tells a longer stream).
  const whole = options.size !== undefined && options.size <= MAX_SINGLE_PUT
  const firstSize = whole ? options.size! + 1 : partSize
  let first: Buffer | undefined
  let second: Buffer | undefined
  try {
    first = (await reader.next(firstSize)) ?? Buffer.alloc(0)
    second = !whole && first.length === partSize ? await reader.next(partSize) : undefined
  } catch (error) {
    await reader.cancel()
    throw error
  }
  if (!second) {
    checkSize()
    const body = first
    const headers: Record<string, string | undefined> = {
      'content-type': options.contentType,
      'x-amz-storage-class': options.storageClass,
      'x-amz-object-lock-mode': options.lock?.mode,
      'x-amz-object-lock-retain-until-date': options.lock?.until.toISOString(),
      'content-md5': options.lock ? md5(body) : undefined,
      'if-none-match': options.createOnly ? '*' : undefined,
    }
    for (const [name, value] of Object.entries(options.metadata ?? {})) headers[`x-amz-meta-${name.toLowerCase()}`] = value
    const {body: answer} = await session.send(options.what, {method: 'PUT', key, headers, body}, call)
    answer.resume()
    return
  }

  const created = await session.call(`${options.what}: starting a multipart upload`, (c, sdk) => c.send(new sdk.CreateMultipartUploadCommand(common)), call)
  const uploadId = created.UploadId
  if (!uploadId) throw new PlakarError(`${options.what}: the server returned no multipart upload id`)
  const parts: {PartNumber: number; ETag: string}[] = []
  const inFlight = new Set<Promise<void>>()
  let failure: unknown
  const sendPart = (number: number, body: Buffer) => {
    const p = session
      .call(`${options.what}: part ${number}`, (c, sdk) =>
        c.send(
          new sdk.UploadPartCommand({
            Bucket: session.bucket,
            Key: key,
            UploadId: uploadId,
            PartNumber: number,
            Body: body,
            ContentLength: body.length,
            ...lockMd5(body),
          }),
        ),
        call,
      )
      .then((r) => {
        parts.push({PartNumber: number, ETag: r.ETag ?? ''})
      })
      .catch((error) => {
        failure ??= error
      })
      .finally(() => inFlight.delete(p))
    inFlight.add(p)
  }
  const concurrency = Math.max(1, options.partConcurrency ?? 4)
  try {
    let number = 0
    sendPart(++number, first)
    first = undefined
    let next: Buffer | undefined = second
    second = undefined
    while (next) {
      sendPart(++number, next)
      next = undefined
      while (inFlight.size >= concurrency && !failure) await Promise.race(inFlight)
      if (failure) break
      options.signal?.throwIfAborted()
      next = await reader.next(partSize)
    }
    while (inFlight.size > 0) await Promise.race(inFlight)
    if (failure) throw failure
    checkSize()
    parts.sort((a, b) => a.PartNumber - b.PartNumber)
    await session.call(`${options.what}: completing a multipart upload`, (c, sdk) =>
      c.send(
        new sdk.CompleteMultipartUploadCommand({
          Bucket: session.bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: {Parts: parts},
          ...(options.createOnly ? {IfNoneMatch: '*'} : {}),
        }),
      ),
      call,
    )
  } catch (error) {
    await reader.cancel()
    while (inFlight.size > 0) await Promise.race(inFlight)
    await session
      .call(`${options.what}: aborting a multipart upload`, (c, sdk) =>
        c.send(new sdk.AbortMultipartUploadCommand({Bucket: session.bucket, Key: key, UploadId: uploadId})),
      )
      .catch((abortError) => session.debug(`could not abort multipart upload of ${key}: ${(abortError as Error).message}`))
    throw error
  }
}
