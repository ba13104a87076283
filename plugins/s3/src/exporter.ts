import {Readable} from 'node:stream'
import {NotFoundError, PlakarError, type CallOptions, type ConnectorContext, type Exporter, type FileInfo} from '@plakar/sdk'
import {putObject} from '@plakar/s3-client'
import {openSession, parseS3Location, type Session} from './session.js'

const HEADER_TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/

/**
 * User metadata as S3 takes it: lowercase header-token names, printable ASCII values. Other
 * values (and values with spaces at either end, which HTTP would trim) are sent RFC 2047-encoded ("=?UTF-8?B?…?="), as AWS documents for non-ASCII metadata:
 * raw UTF-8 in a header breaks SigV4 signatures on some servers (radosgw answers
 * SignatureDoesNotMatch). The S3 importer decodes that form back to the text.
 */
export function s3Metadata(metadata: Record<string, string> | undefined, path: string): Record<string, string> | undefined {
  if (!metadata) return undefined
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(metadata)) {
    const key = name.toLowerCase()
    if (!HEADER_TOKEN.test(key)) throw new PlakarError(`${path}: metadata name "${name}" cannot be an S3 metadata name`)
    out[key] = /^(?:[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?)?$/.test(value) ? value : `=?UTF-8?B?${Buffer.from(value, 'utf8').toString('base64')}?=`
  }
  return out
}

/**
 * Restores into a bucket, under an optional prefix: files become objects (multipart with
 * parallel parts when large) with their content type and user metadata; hard links become
 * server-side copies. S3 has no directories: only folder markers that came from S3 (directories
 * with metadata) are written back as "key/" objects. It has no symbolic links either: those are
 * reported, not restored. Object times are set by the server and cannot be restored.
 */
export class S3Exporter implements Exporter {
  readonly root: string
  readonly session: Session
  readonly #base: string

  constructor(session: Session) {
    this.session = session
    this.root = session.display
    this.#base = session.location.prefix ? `${session.location.prefix}/` : ''
  }

  #key(path: string): string {
    const parts = path.split('/').filter((p) => p !== '')
    if (parts.some((p) => p === '.' || p === '..' || p.includes('\0'))) throw new PlakarError(`refused path ${path}: it would leave the restore target`)
    return `${this.#base}${parts.join('/')}`
  }

  async createDirectory(path: string, info: FileInfo, options?: CallOptions): Promise<void> {
    const key = this.#key(path)
    if (info.metadata === undefined || key === this.#base) return
    await putObject(this.session, `${key}/`, Readable.from([]), {
      what: `writing folder ${path}`,
      size: 0,
      contentType: info.contentType,
      metadata: s3Metadata(info.metadata, path),
      storageClass: this.session.settings.storageClass,
      signal: options?.signal,
    })
  }

  async storeFile(path: string, data: Readable, info: FileInfo, options?: CallOptions): Promise<void> {
    const key = this.#key(path)
    if (key === this.#base) throw new PlakarError(`cannot restore a file as ${this.root} itself: it is the restore target`)
    await putObject(this.session, key, data, {
      what: `writing ${path}`,
      // The size only sizes the parts: the stream is the truth.
      expectedSize: info.size,
      contentType: info.contentType ?? 'application/octet-stream',
      metadata: s3Metadata(info.metadata, path),
      storageClass: this.session.settings.storageClass,
      signal: options?.signal,
    })
  }

  async createLink(path: string, target: string, kind: 'symlink' | 'hardlink', _info?: FileInfo, options?: CallOptions): Promise<void> {
    if (kind === 'symlink') throw new PlakarError(`${path}: not restored, S3 has no symbolic links (it pointed to ${target})`)
    const s = this.session
    const key = this.#key(path)
    const source = this.#key(target)
    if (key === this.#base || source === this.#base) throw new PlakarError(`refused hard link ${path} → ${target}: the restore target itself is not a file`)
    const copySource = `${s.bucket}/${source.split('/').map(encodeURIComponent).join('/')}`
    await s.call(`copying ${target} to ${path}`, (c, sdk) =>
      c.send(
        new sdk.CopyObjectCommand({
          Bucket: s.bucket,
          Key: key,
          CopySource: copySource,
          MetadataDirective: 'COPY',
          StorageClass: s.settings.storageClass as never,
        }),
      ),
      {signal: options?.signal},
    )
  }

  async setMetadata(path: string): Promise<void> {
    // Objects get their metadata when written; S3 has no directory metadata or settable times.
    this.#key(path)
  }

  async close(): Promise<void> {
    this.session.close()
  }
}

export default async function createExporter(context: ConnectorContext): Promise<Exporter> {
  const session = await openSession(context)
  try {
    if (!(await session.bucketExists())) {
      if (!session.settings.createBucket) {
        throw new NotFoundError(`bucket "${session.bucket}" does not exist at ${session.settings.endpoint}: create it, or allow plakar to (create_bucket=true)`)
      }
      await session.createBucket()
    }
  } catch (error) {
    session.close()
    throw error
  }
  return new S3Exporter(session)
}

/** Refuses a location the factory would refuse (credentials in it, no bucket), without connecting. */
export function checkLocation(location: string): void {
  parseS3Location(location)
}
