import {Readable} from 'node:stream'
import {
  NotFoundError,
  ObjectNotFoundError,
  PlakarError,
  readAll,
  type ConnectorContext,
  type Id,
  type Kind,
  type Range,
  type Storage,
  type StorageCapabilities,
} from '@plakar/sdk'
import {codeOf, isMissingObject, statusOf} from './errors.js'
import {openObject} from './download.js'
import {parseS3Location} from './location.js'
import {decodeListedKey} from './metadata.js'
import type {S3Config} from './options.js'
import {S3Session} from './session.js'
import {putObject} from './upload.js'

const DIRS: Record<Kind, string> = {packfile: 'packfiles', state: 'states', lock: 'locks'}
const ID = /^[0-9a-f]{16,128}$/

/**
 * A repository under `bucket/prefix/`:
 *   CONFIG, packfiles/<first two hex digits>/<id>, states/<id>, locks/<id>
 * The same layout as the fs storage. S3 writes are atomic (a PutObject, or a multipart upload
 * that becomes visible only when completed) and an id names fixed content, so a put is atomic
 * and idempotent as it is.
 */
export class S3Storage implements Storage {
  readonly location: string
  readonly session: S3Session
  readonly #base: string

  constructor(session: S3Session) {
    this.session = session
    this.location = session.display
    this.#base = session.location.prefix ? `${session.location.prefix}/` : ''
  }

  #key(kind: Kind, id: Id): string {
    if (!ID.test(id)) throw new PlakarError(`invalid object id "${id}"`)
    return kind === 'packfile' ? `${this.#base}${DIRS[kind]}/${id.slice(0, 2)}/${id}` : `${this.#base}${DIRS[kind]}/${id}`
  }

  get #openHint(): string {
    return `check the location, or create a repository with "plakar at ${this.location} create"`
  }

  async create(config: Uint8Array): Promise<void> {
    const s = this.session
    if (!(await s.bucketExists())) {
      if (!s.settings.createBucket) {
        throw new NotFoundError(`bucket "${s.bucket}" does not exist at ${s.settings.endpoint}: create it, or allow plakar to (create_bucket=true)`)
      }
      await s.createBucket()
    }
    const listed = await s.call(`listing ${this.location}`, (c, sdk) =>
      c.send(new sdk.ListObjectsV2Command({Bucket: s.bucket, Prefix: this.#base, MaxKeys: 2, EncodingType: 'url'})),
    )
    const keys = (listed.Contents ?? []).map((o) => decodeListedKey(o.Key!, listed.EncodingType))
    if (keys.includes(`${this.#base}CONFIG`)) throw new PlakarError(`a repository already exists at ${this.location}`)
    if (keys.length > 0) {
      throw new PlakarError(`cannot create a repository at ${this.location}: it already holds objects (choose an empty bucket or another prefix)`)
    }
    const put = (createOnly: boolean) =>
      putObject(s, `${this.#base}CONFIG`, Readable.from([Buffer.from(config)]), {
        what: `writing ${this.location}/CONFIG`,
        size: config.length,
        createOnly,
        contentType: 'application/octet-stream',
      })
    try {
      await put(true)
    } catch (error) {
      const cause = (error as {cause?: unknown}).cause ?? error
      if (codeOf(cause) === 'PreconditionFailed' || statusOf(cause) === 412) {
        throw new PlakarError(`a repository already exists at ${this.location}`)
      }
      // Servers without conditional writes: the emptiness check above is the best there is.
      if (codeOf(cause) === 'NotImplemented' || statusOf(cause) === 501) await put(false)
      else throw error
    }
  }

  async open(): Promise<Uint8Array> {
    const {stream} = await openObject(this.session, `${this.#base}CONFIG`, {
      what: `reading ${this.location}/CONFIG`,
      missing: (error) => (isMissingObject(error) ? new ObjectNotFoundError(`no repository at ${this.location}`) : undefined),
      missingBucketHint: this.#openHint,
    })
    return readAll(stream)
  }

  /** A PUT is atomic on S3: a GET returns the old object or the new one, never a mix. */
  async replaceConfig(config: Uint8Array): Promise<void> {
    await this.open()
    await putObject(this.session, `${this.#base}CONFIG`, Readable.from([Buffer.from(config)]), {
      what: `writing ${this.location}/CONFIG`,
      size: config.length,
      createOnly: false,
      contentType: 'application/octet-stream',
    })
  }

  async *list(kind: Kind): AsyncGenerator<Id> {
    for await (const {id} of this.listWithSizes(kind)) yield id
  }

  async *listWithSizes(kind: Kind): AsyncGenerator<{id: Id; size: number}> {
    const s = this.session
    const prefix = `${this.#base}${DIRS[kind]}/`
    let token: string | undefined
    do {
      const page = await s.call(
        `listing ${this.location}/${DIRS[kind]}`,
        (c, sdk) => c.send(new sdk.ListObjectsV2Command({Bucket: s.bucket, Prefix: prefix, ContinuationToken: token, EncodingType: 'url'})),
        {missingBucketHint: this.#openHint},
      )
      for (const object of page.Contents ?? []) {
        const rest = decodeListedKey(object.Key!, page.EncodingType).slice(prefix.length)
        const parts = rest.split('/')
        const id = parts.at(-1)!
        if (!ID.test(id)) continue
        if (kind === 'packfile' ? parts.length === 2 && parts[0] === id.slice(0, 2) : parts.length === 1) yield {id, size: object.Size ?? 0}
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined
    } while (token)
  }

  async put(kind: Kind, id: Id, data: Readable, size: number): Promise<void> {
    await putObject(this.session, this.#key(kind, id), data, {
      what: `storing ${kind} ${id.slice(0, 16)}`,
      size,
      storageClass: kind === 'packfile' ? this.session.settings.storageClass : undefined,
      contentType: 'application/octet-stream',
    })
  }

  async get(kind: Kind, id: Id, range?: Range): Promise<Readable> {
    const key = this.#key(kind, id)
    const missing = (error: unknown) => (isMissingObject(error) ? new ObjectNotFoundError(`${kind} ${id} not found`) : undefined)
    if (range) {
      if (range.offset < 0 || range.length < 0 || !Number.isSafeInteger(range.offset) || !Number.isSafeInteger(range.length)) {
        throw new PlakarError(`invalid range ${range.offset}+${range.length} of ${kind} ${id}`)
      }
      if (range.length === 0) {
        // S3 has no empty ranges: check that the object exists and the offset is inside it.
        const {size} = await this.stat(kind, id)
        if (range.offset > size) throw new PlakarError(`range ${range.offset}+0 is outside ${kind} ${id} (${size} bytes)`)
        return Readable.from([])
      }
    }
    const {stream} = await openObject(this.session, key, {
      what: `reading ${kind} ${id.slice(0, 16)}`,
      offset: range?.offset,
      length: range?.length,
      missing,
    }).catch(async (error) => {
      // A range starting past the end: S3 answers 416 InvalidRange.
      if (range && (codeOf((error as {cause?: unknown}).cause) === 'InvalidRange' || statusOf((error as {cause?: unknown}).cause) === 416)) {
        throw new PlakarError(`range ${range.offset}+${range.length} is outside ${kind} ${id}`)
      }
      throw error
    })
    return stream
  }

  async stat(kind: Kind, id: Id): Promise<{size: number}> {
    const s = this.session
    try {
      const head = await s.call(
        `reading the size of ${kind} ${id.slice(0, 16)}`,
        (c, sdk) => c.send(new sdk.HeadObjectCommand({Bucket: s.bucket, Key: this.#key(kind, id)})),
        {passthrough: isMissingObject},
      )
      return {size: head.ContentLength ?? 0}
    } catch (error) {
      if (isMissingObject(error)) throw new ObjectNotFoundError(`${kind} ${id} not found`)
      throw error
    }
  }

  async delete(kind: Kind, id: Id): Promise<void> {
    const s = this.session
    await s.call(`deleting ${kind} ${id.slice(0, 16)}`, (c, sdk) => c.send(new sdk.DeleteObjectCommand({Bucket: s.bucket, Key: this.#key(kind, id)})), {
      passthrough: isMissingObject,
    }).catch((error) => {
      if (!isMissingObject(error)) throw error
    })
  }

  capabilities(): StorageCapabilities {
    return {read: true, write: true, delete: true}
  }

  async close(): Promise<void> {
    this.session.close()
  }
}

export default async function createStorage(context: ConnectorContext): Promise<Storage> {
  const session = await S3Session.open(parseS3Location(context.location), context.config as S3Config, context.logger)
  return new S3Storage(session)
}

/** Refuses a location the factory would refuse (credentials in it, no bucket), without connecting. */
export function checkLocation(location: string): void {
  parseS3Location(location)
}
