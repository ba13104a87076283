import {Readable} from 'node:stream'
import {
  CONFIG_NAME,
  idFromListedKey,
  kindDirectory,
  NotFoundError,
  objectKey,
  ObjectNotFoundError,
  PlakarError,
  readAll,
  type CallOptions,
  type Id,
  type Kind,
  type Range,
} from '@plakar/sdk'
import type {ConnectionSettings} from './connection.js'
import {openObject} from './download.js'
import {codeOf, isMissingObject, statusOf} from './errors.js'
import {listPage} from './listing.js'
import type {S3Session} from './session.js'
import {objectHead, type ObjectHead} from './wire.js'

/**
 * The part of a plakar storage in an S3 bucket that does not depend on how objects are
 * written: a repository under `bucket/prefix/` in the SDK's layout, as the fs storage
 *   CONFIG, packfiles/<first two hex digits>/<id>, states/<id>, locks/<id>
 * with reads (whole or ranged, resumed when the body breaks off), listings and sizes. A
 * connector adds create, put and delete, where their policies differ (storage classes, Object
 * Lock), and implements the SDK's Storage contract with it.
 */
export abstract class BucketStorage<S extends ConnectionSettings = ConnectionSettings> {
  readonly location: string
  readonly session: S3Session<S>
  /** The key prefix of the repository: '' or 'prefix/'. */
  protected readonly base: string

  constructor(session: S3Session<S>) {
    this.session = session
    this.location = session.display
    this.base = session.location.prefix ? `${session.location.prefix}/` : ''
  }

  protected key(kind: Kind, id: Id): string {
    return `${this.base}${objectKey(kind, id)}`
  }

  protected get configKey(): string {
    return `${this.base}${CONFIG_NAME}`
  }

  protected get openHint(): string {
    return `check the location, or create a repository with "plakar at ${this.location} create"`
  }

  /** Creates the bucket when it is missing and create_bucket allows it. */
  protected async ensureBucket(objectLock = false): Promise<void> {
    const s = this.session
    if (await s.bucketExists()) return
    if (!s.settings.createBucket) {
      throw new NotFoundError(`bucket "${s.bucket}" does not exist at ${s.settings.endpoint}: create it, or allow plakar to (create_bucket=true)`)
    }
    await s.createBucket(objectLock)
  }

  /** A repository is created only where nothing is: not over one, not among other objects. */
  protected async refuseUnlessEmpty(): Promise<void> {
    const s = this.session
    const listed = await listPage(s, `listing ${this.location}`, {prefix: this.base, maxKeys: 2})
    const keys = listed.objects.map((o) => o.key)
    if (keys.includes(this.configKey)) throw new PlakarError(`a repository already exists at ${this.location}`)
    if (keys.length > 0) {
      throw new PlakarError(`cannot create a repository at ${this.location}: it already holds objects (choose an empty bucket or another prefix)`)
    }
  }

  /** Whether a failed put was refused because the object exists (If-None-Match: *). */
  protected isAlreadyThere(error: unknown): boolean {
    const cause = (error as {cause?: unknown}).cause ?? error
    return codeOf(cause) === 'PreconditionFailed' || statusOf(cause) === 412
  }

  async open(options?: CallOptions): Promise<Uint8Array> {
    const {stream} = await openObject(this.session, this.configKey, {
      signal: options?.signal,
      what: `reading ${this.location}/CONFIG`,
      missing: (error) => (isMissingObject(error) ? new ObjectNotFoundError(`no repository at ${this.location}`) : undefined),
      missingBucketHint: this.openHint,
    })
    return readAll(stream)
  }

  async *list(kind: Kind, options?: CallOptions): AsyncGenerator<Id> {
    for await (const {id} of this.listWithSizes(kind, options)) yield id
  }

  async *listWithSizes(kind: Kind, options?: CallOptions): AsyncGenerator<{id: Id; size: number}> {
    const s = this.session
    const prefix = `${this.base}${kindDirectory(kind)}/`
    let token: string | undefined
    do {
      const page = await listPage(s, `listing ${this.location}/${kindDirectory(kind)}`, {prefix, token}, {missingBucketHint: this.openHint, signal: options?.signal})
      for (const object of page.objects) {
        const id = idFromListedKey(kind, object.key.slice(prefix.length))
        if (id !== undefined) yield {id, size: object.size}
      }
      token = page.next
    } while (token)
  }

  /** The error a failed GET of an object means, or undefined for a failure to report as is. */
  protected unreadable(kind: Kind, id: Id, error: unknown): Error | undefined {
    return isMissingObject(error) ? new ObjectNotFoundError(`${kind} ${id} not found`) : undefined
  }

  async get(kind: Kind, id: Id, range?: Range, options?: CallOptions): Promise<Readable> {
    const key = this.key(kind, id)
    if (range) {
      if (range.offset < 0 || range.length < 0 || !Number.isSafeInteger(range.offset) || !Number.isSafeInteger(range.length)) {
        throw new PlakarError(`invalid range ${range.offset}+${range.length} of ${kind} ${id}`)
      }
      if (range.length === 0) {
        // S3 has no empty ranges: check that the object exists and the offset is inside it.
        const {size} = await this.stat(kind, id, options)
        if (range.offset > size) throw new PlakarError(`range ${range.offset}+0 is outside ${kind} ${id} (${size} bytes)`)
        return Readable.from([])
      }
    }
    const {stream} = await openObject(this.session, key, {
      what: `reading ${kind} ${id.slice(0, 16)}`,
      offset: range?.offset,
      length: range?.length,
      missing: (error) => this.unreadable(kind, id, error),
      signal: options?.signal,
    }).catch(async (error) => {
      // A range starting past the end: S3 answers 416 InvalidRange.
      const cause = (error as {cause?: unknown}).cause
      if (range && (codeOf(cause) === 'InvalidRange' || statusOf(cause) === 416)) {
        throw new PlakarError(`range ${range.offset}+${range.length} is outside ${kind} ${id}`)
      }
      throw error
    })
    return stream
  }

  protected async head(kind: Kind, id: Id, what: string, signal?: AbortSignal): Promise<ObjectHead> {
    const s = this.session
    try {
      return objectHead((await s.send(what, {method: 'HEAD', key: this.key(kind, id)}, {passthrough: isMissingObject, signal})).headers)
    } catch (error) {
      if (isMissingObject(error)) throw new ObjectNotFoundError(`${kind} ${id} not found`)
      throw error
    }
  }

  async stat(kind: Kind, id: Id, options?: CallOptions): Promise<{size: number}> {
    const head = await this.head(kind, id, `reading the size of ${kind} ${id.slice(0, 16)}`, options?.signal)
    return {size: head.ContentLength ?? 0}
  }

  /** Deletes one key (one version: the latest, on a versioned bucket); a missing one is fine. */
  protected async deleteKey(key: string, what: string, versionId?: string, signal?: AbortSignal): Promise<void> {
    const s = this.session
    await s
      .send(what, {method: 'DELETE', key, query: {versionId}}, {passthrough: isMissingObject, signal})
      .catch((error) => {
        if (!isMissingObject(error)) throw error
      })
  }

  async close(): Promise<void> {
    this.session.close()
  }
}
