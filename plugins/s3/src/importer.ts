import {
  NotFoundError,
  PlakarError,
  type ConnectorContext,
  type FileInfo,
  type Importer,
  type ImportRecord,
  type ScanError,
  type ScanOptions,
} from '@plakar/sdk'
import {codeOf, isAuthFailure, isMissingObject, listPage, objectHead, openObject} from '@plakar/s3-client'
import {decodeMetadata} from './metadata.js'
import {errorPathOfKey, FileDirectoryConflicts, keyProblem} from './paths.js'
import {ScanCache, type CachedObject} from './scan-cache.js'
import {openSession, parseS3Location, type Session} from './session.js'

interface Listed {
  key: string
  size: number
  mtime: number
  etag?: string
}

/**
 * `settled`: the server answered in a later second than the version's LastModified, so any later
 * version has another LastModified (see #head).
 */
type Described = FileInfo & {rawEtag?: string; settled?: boolean}
type Pending = {listed: Listed; head: Promise<Described>; cached: boolean}

function unquote(etag: string | undefined): string | undefined {
  return etag?.replace(/^"(.*)"$/, '$1')
}

/**
 * The objects of a bucket, or of a prefix of it, as records: path `/<bucket>/<key>` (see
 * paths.ts), size, modification time, content type, user metadata, and the ETag as the
 * fingerprint, so that an object is read again only when one of size, mtime or ETag changed.
 * Keys are listed in pages and their HEAD requests pipelined (content type and user metadata
 * are not in listings); memory stays bounded whatever the object count. Keys ending in "/"
 * ("folder" markers) become directories that carry their metadata.
 */
export class S3Importer implements Importer {
  readonly type = 's3'
  readonly origin: string
  readonly root: string
  readonly session: Session
  readonly #prefix: string
  readonly #cacheDir: string | undefined

  constructor(session: Session, cacheDir?: string) {
    this.session = session
    this.#cacheDir = cacheDir
    const loc = session.location
    this.origin = `${loc.host}${loc.port ? `:${loc.port}` : ''}`
    this.#prefix = loc.prefix
    this.root = `/${loc.bucket}${loc.prefix ? `/${loc.prefix}` : ''}`
  }

  #path(key: string): string {
    return `/${this.session.bucket}/${key.endsWith('/') ? key.slice(0, -1) : key}`
  }

  async *scan(options: ScanOptions): AsyncGenerator<ImportRecord | ScanError> {
    const s = this.session
    const listPrefix = this.#prefix ? `${this.#prefix}/` : ''
    const window = Math.max(8, s.settings.connections * 4)
    const queue: Pending[] = []
    const conflicts = new FileDirectoryConflicts()
    /** Directories of the current key, outermost first, with the skip verdict of each. */
    const dirs: {path: string; skipped: boolean}[] = []
    let any = false

    const skippedByDirectory = (path: string): boolean => {
      const parts = path.slice(this.root.length + 1).split('/').slice(0, -1)
      let dir = this.root
      for (let i = 0; i < parts.length; i++) {
        dir = `${dir}/${parts[i]}`
        if (dirs[i]?.path === dir) {
          if (dirs[i].skipped) return true
          continue
        }
        dirs.length = i
        const skipped = options.skip?.(dir, true) ?? false
        dirs.push({path: dir, skipped})
        if (skipped) return true
      }
      dirs.length = parts.length
      return false
    }

    const root: ImportRecord = {path: this.root, info: {type: 'directory', size: 0}}
    let rootYielded = false
    let token: string | undefined
    const cache = this.#cacheDir ? await ScanCache.open(this.#cacheDir, `${s.settings.endpoint}\n${s.bucket}\n${this.#prefix}`) : undefined
    let completed = false
    try {
      do {
        options.signal.throwIfAborted()
        const page = await listPage(
          s,
          `listing ${s.display}`,
          {prefix: listPrefix, token},
          {missingBucketHint: 'check the bucket name in the location', signal: options.signal},
        )
        token = page.next
        if (!rootYielded && page.objects.length > 0) {
          rootYielded = true
          yield root
        }
        for (const object of page.objects) {
          any = true
          const key = object.key
          if (key === listPrefix) continue // the prefix's own folder marker: the root
          const path = this.#path(key)
          const problem = keyProblem(key)
          if (problem) {
            yield {path: errorPathOfKey(s.bucket, key), error: `object ${JSON.stringify(key)} not backed up: ${problem}, which a path cannot represent`}
            continue
          }
          const marker = key.endsWith('/')
          if (skippedByDirectory(path) || options.skip?.(path, marker)) continue
          const parent = conflicts.parentFile(key)
          if (parent !== undefined) {
            yield {path, error: `object not backed up: object "${parent}" already stands where its parent directory would be`}
            continue
          }
          if (marker && object.size > 0) {
            yield {path, error: `object not backed up: its key ends with "/" but it holds ${object.size} bytes`}
            continue
          }
          if (!marker) conflicts.addFile(key)
          const listed: Listed = {key, size: object.size, mtime: object.lastModified?.getTime() ?? 0, etag: object.etag}
          const cached = await cache?.lookup(key, listed.etag, listed.size, listed.mtime)
          const head = cached ? Promise.resolve(fromCache(cached, marker)) : this.#head(listed, marker, options.signal)
          head.catch(() => {}) // awaited in order below; not an unhandled rejection meanwhile
          queue.push({listed, head, cached: !!cached})
          while (queue.length >= window) yield await this.#record(queue.shift()!, cache)
        }
        while (queue.length > 0 && !token) yield await this.#record(queue.shift()!, cache)
      } while (token)
      completed = true
    } finally {
      if (completed) await cache?.commit()
      else await cache?.abort()
    }
    if (!any && this.#prefix) {
      // No "prefix/…" keys: maybe the location names one object.
      const single = await this.#head({key: this.#prefix, size: 0, mtime: 0}, false, options.signal).catch((error) => {
        if ((error as {vanished?: boolean}).vanished) return undefined
        throw error
      })
      if (single) {
        yield this.#fileRecord(this.#prefix, single)
        return
      }
    }
    if (!rootYielded) yield root
  }

  /** Content type, user metadata and the exact version of one object. */
  async #head(listed: Listed, marker: boolean, signal: AbortSignal): Promise<Described> {
    const s = this.session
    try {
      const answer = await s.send(
        `reading the metadata of ${listed.key}`,
        {method: 'HEAD', key: listed.key},
        {passthrough: (e) => isMissingObject(e) || (isAuthFailure(e) && codeOf(e) !== 'InvalidAccessKeyId' && codeOf(e) !== 'SignatureDoesNotMatch'), signal},
      )
      const head = objectHead(answer.headers)
      const info: Described = {
        type: marker ? 'directory' : 'file',
        size: marker ? 0 : (head.ContentLength ?? listed.size),
        mtime: head.LastModified && listed.mtime === 0 ? head.LastModified.getTime() : listed.mtime,
        metadata: decodeMetadata(head.Metadata),
        fingerprint: unquote(head.ETag ?? listed.etag),
        rawEtag: head.ETag ?? listed.etag,
      }
      if (head.ContentType) info.contentType = head.ContentType
      // A newer version appeared since the listing: describe the one HEAD saw.
      if (head.ETag && listed.etag && head.ETag !== listed.etag && head.LastModified) info.mtime = head.LastModified.getTime()
      // S3 times have one-second resolution, and replacing an object's metadata (CopyObject)
      // keeps its ETag and size: a version read in the second it was written may be replaced,
      // in that same second, by one the scan cache could not tell from it. Such a version is
      // not remembered (the next scan asks again), as git does with racily clean files. The
      // server's own clock (its Date header) decides, so the client's clock does not matter.
      const served = Date.parse(headerValue(answer.headers.date) ?? '')
      info.settled = Number.isFinite(served) && Math.floor(served / 1000) > Math.floor((info.mtime ?? 0) / 1000)
      return info
    } catch (error) {
      if (isMissingObject(error)) throw Object.assign(new PlakarError('object vanished during the backup'), {vanished: true})
      if (isAuthFailure(error)) throw Object.assign(new PlakarError('access denied to this object'), {vanished: true})
      throw error
    }
  }

  async #record(pending: Pending, cache: ScanCache | undefined): Promise<ImportRecord | ScanError> {
    const path = this.#path(pending.listed.key)
    let info
    try {
      info = await pending.head
    } catch (error) {
      if ((error as {vanished?: boolean}).vanished) return {path, error: (error as Error).message}
      throw error
    }
    if (cache && info.rawEtag && (pending.cached || info.settled)) {
      cache.record(pending.listed.key, {
        etag: info.rawEtag,
        size: info.size,
        mtime: info.mtime ?? 0,
        contentType: info.contentType,
        metadata: info.metadata ?? {},
      })
    }
    if (info.type === 'directory') {
      const {rawEtag: _, settled: __, ...rest} = info
      return {path, info: rest}
    }
    return this.#fileRecord(pending.listed.key, info)
  }

  #fileRecord(key: string, full: Described): ImportRecord {
    const {rawEtag, settled: _, ...info} = full
    const path = key === this.#prefix ? this.root : this.#path(key)
    return {
      path,
      info,
      open: async (options) => {
        const {stream} = await openObject(this.session, key, {
          signal: options?.signal,
          what: `reading ${path}`,
          etag: rawEtag,
          missing: (error) => {
            if (isMissingObject(error)) return new PlakarError('object vanished during the backup')
            if (codeOf(error) === 'PreconditionFailed') return new PlakarError('object changed during the backup')
            // GLACIER / DEEP_ARCHIVE: one unreadable object, not a failed endpoint.
            if (codeOf(error) === 'InvalidObjectState') return new PlakarError('object is archived (GLACIER or DEEP_ARCHIVE): restore it in S3 first')
            return undefined
          },
        })
        return stream
      },
    }
  }

  async close(): Promise<void> {
    this.session.close()
  }
}

export default async function createImporter(context: ConnectorContext): Promise<Importer> {
  const session = await openSession(context)
  try {
    if (!(await session.bucketExists())) {
      throw new NotFoundError(`bucket "${session.bucket}" does not exist at ${session.settings.endpoint}: check the bucket name in ${session.display}`)
    }
  } catch (error) {
    session.close()
    throw error
  }
  return new S3Importer(session, context.cacheDir)
}

function fromCache(cached: CachedObject, marker: boolean): Described {
  const info: Described = {
    type: marker ? 'directory' : 'file',
    size: marker ? 0 : cached.size,
    mtime: cached.mtime,
    metadata: {...cached.metadata},
    fingerprint: unquote(cached.etag),
    rawEtag: cached.etag,
  }
  if (cached.contentType !== undefined) info.contentType = cached.contentType
  return info
}

/** Refuses a location the factory would refuse (credentials in it, no bucket), without connecting. */
export function checkLocation(location: string): void {
  parseS3Location(location)
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}
