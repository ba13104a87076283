import {PassThrough, Readable, Transform} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {createGzip} from 'node:zlib'
import tarStream from 'tar-stream'
import yazl from 'yazl'
import {IntegrityError} from '@plakar/sdk'
import type {Entry} from '../tree/entry.js'
import type {Snapshot} from './snapshot.js'

export const ARCHIVE_FORMATS = ['tar', 'tar.gz', 'zip'] as const
export type ArchiveFormat = (typeof ARCHIVE_FORMATS)[number]

export const ARCHIVE_MEDIA_TYPES: Record<ArchiveFormat, string> = {
  tar: 'application/x-tar',
  'tar.gz': 'application/gzip',
  zip: 'application/zip',
}

export interface ArchiveOptions {
  /** Stops the walk and fails the stream. */
  signal?: AbortSignal
  /** Called for each entry left out (read errors at backup time, devices, sockets). */
  onSkip?: (path: string, reason: string) => void
}

/**
 * A subtree of a snapshot as a tar, tar.gz or zip byte stream, written while it is read: the
 * tree is walked in order and each file's content is fetched only when the archive reaches it,
 * so memory does not grow with the number or size of files (a zip still keeps one central
 * directory record per entry, which the format needs at its end). Names inside the archive
 * start with the archived directory's own name ("photos/cat.jpg"), or are the file's name when
 * a single file is archived. A chunk that cannot be read fails the stream: a download is never
 * silently truncated or corrupted.
 *
 * tar-stream and yazl are streaming writers that need no temporary files (archiver, the usual
 * alternative, wraps the same ideas with more dependencies).
 */
export function archiveStream(snapshot: Snapshot, path: string, format: ArchiveFormat, options: ArchiveOptions = {}): Readable {
  // The whole snapshot ("/") is archived as its paths without the leading "/".
  const base = path.slice(0, path.lastIndexOf('/') + 1)
  const nameOf = (p: string) => p.slice(base.length)
  return format === 'zip' ? zipStream(snapshot, path, nameOf, options) : tarStreamOf(snapshot, path, nameOf, format === 'tar.gz', options)
}

type Namer = (path: string) => string

function skipReason(entry: Entry): string | undefined {
  if (entry.error) return `not backed up: ${entry.error}`
  const type = entry.info.type
  if (type === 'file' || type === 'directory' || type === 'symlink') return undefined
  return `a ${type} has no content to archive`
}

function mtimeOf(entry: Entry): Date {
  return new Date(entry.info.mtime ?? 0)
}

/** File content checked against the size its entry announced (an archive header promised it). */
async function content(snapshot: Snapshot, path: string, entry: Entry): Promise<Readable> {
  const source = await snapshot.open(entry)
  let seen = 0
  const checked = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length
      done(null, chunk)
    },
    flush(done) {
      done(seen === entry.info.size ? null : new IntegrityError(`${path}: content is ${seen} bytes, its entry says ${entry.info.size}`))
    },
  })
  source.on('error', (error) => checked.destroy(error))
  return source.pipe(checked)
}

/**
 * A ustar header holds whole seconds: a time with a fraction goes in a pax record too (as GNU tar
 * writes it), so extracting keeps the sub-second time the snapshot recorded.
 */
function paxTimes(entry: Entry): Record<string, string> | undefined {
  const mtime = entry.info.mtime
  if (mtime === undefined || mtime % 1000 === 0) return undefined
  return {mtime: (mtime / 1000).toFixed(6)}
}

function tarStreamOf(snapshot: Snapshot, path: string, nameOf: Namer, gzip: boolean, options: ArchiveOptions): Readable {
  const pack = tarStream.pack()
  const fill = async () => {
    for await (const [p, entry] of snapshot.walk(path)) {
      options.signal?.throwIfAborted()
      if (p === '/') continue
      const reason = skipReason(entry)
      if (reason) {
        options.onSkip?.(p, reason)
        continue
      }
      const header = {name: nameOf(p), mode: entry.info.mode ?? (entry.info.type === 'directory' ? 0o755 : 0o644), mtime: mtimeOf(entry), uname: entry.info.username, gname: entry.info.groupname, uid: entry.info.uid, gid: entry.info.gid, pax: paxTimes(entry)}
      if (entry.info.type === 'directory') {
        await new Promise<void>((resolve, reject) => pack.entry({...header, type: 'directory'}, (error) => (error ? reject(error) : resolve())))
      } else if (entry.info.type === 'symlink') {
        await new Promise<void>((resolve, reject) => pack.entry({...header, type: 'symlink', linkname: entry.target ?? ''}, (error) => (error ? reject(error) : resolve())))
      } else {
        const sink = pack.entry({...header, type: 'file', size: entry.info.size})
        await pipeline(await content(snapshot, p, entry), sink)
      }
    }
    pack.finalize()
  }
  fill().catch((error: unknown) => pack.destroy(error as Error))
  if (!gzip) return pack as unknown as Readable
  const gz = createGzip({level: 6})
  pipeline(pack as unknown as Readable, gz).catch((error: unknown) => gz.destroy(error as Error))
  return gz
}

/** Already-compressed content is stored, not deflated again: it would only cost CPU. */
function worthCompressing(entry: Entry): boolean {
  const type = entry.info.contentType ?? ''
  if (/^(image|video|audio)\//.test(type) && type !== 'image/svg+xml' && type !== 'image/bmp') return false
  return !/(zip|gzip|x-7z|x-rar|x-xz|x-bzip2|zstd|compressed|pdf|epub|woff2?)/.test(type)
}

function zipStream(snapshot: Snapshot, path: string, nameOf: Namer, options: ArchiveOptions): Readable {
  const zip = new yazl.ZipFile()
  // yazl writes entries in the order they were added; adding runs at most `window` entries
  // ahead of the writer, so the walk never queues the whole tree.
  const window = 64
  let added = 0
  let started = 0
  let wake: (() => void) | undefined
  const startedOne = () => {
    started++
    wake?.()
  }
  const output = new PassThrough()
  let failed = false
  const fail = (error: Error) => {
    if (failed) return
    failed = true
    output.destroy(error)
  }
  zip.outputStream.on('error', fail)
  zip.outputStream.pipe(output)
  const fill = async () => {
    for await (const [p, entry] of snapshot.walk(path)) {
      options.signal?.throwIfAborted()
      if (failed) return
      if (p === '/') continue
      const reason = skipReason(entry)
      if (reason) {
        options.onSkip?.(p, reason)
        continue
      }
      while (added - started >= window) await new Promise<void>((resolve) => (wake = resolve))
      const name = nameOf(p)
      const mtime = mtimeOf(entry)
      if (entry.info.type === 'directory') {
        zip.addEmptyDirectory(name, {mtime, mode: 0o40000 | (entry.info.mode ?? 0o755)})
        added++
        startedOne()
      } else if (entry.info.type === 'symlink') {
        zip.addBuffer(Buffer.from(entry.target ?? ''), name, {mtime, mode: 0o120000 | 0o777, compress: false})
        added++
        startedOne()
      } else {
        added++
        zip.addReadStreamLazy(name, {mtime, mode: 0o100000 | (entry.info.mode ?? 0o644), size: entry.info.size, compress: worthCompressing(entry)}, (cb) => {
          startedOne()
          content(snapshot, p, entry).then(
            (stream) => {
              stream.on('error', fail)
              cb(null, stream)
            },
            (error: Error) => {
              fail(error)
              cb(error, undefined as unknown as Readable)
            },
          )
        })
      }
    }
    zip.end()
  }
  fill().catch((error: unknown) => fail(error as Error))
  return output
}
