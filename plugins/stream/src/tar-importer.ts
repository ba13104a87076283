import {hostname} from 'node:os'
import tarStream from 'tar-stream'
import {abortable, PlakarError, type ConnectorContext, type FileInfo, type Importer, type ImportRecord, type ScanError, type ScanOptions} from '@plakar/sdk'
import {checkInput, openInput, parseInput, rereadable, type Input} from './input.js'
import {recordPathOf} from './names.js'
import {sequentialRecord} from './sequential.js'

type Header = Omit<tarStream.Header, 'pax' | 'type'> & {pax?: Record<string, string> | null; type?: string | null}
/** An entry's content (a streamx Readable): iterated, or resumed to skip it. */
type EntryStream = AsyncIterable<Buffer> & {resume(): unknown}

/**
 * A tar archive (plain, or gzip-compressed: tgz:, or detected by tar:) read as a tree: regular
 * files, directories, symbolic links, hard links, devices and FIFOs, with their permission bits,
 * owner, and times (pax sub-second times when present). The archive is read once, front to back
 * (tar-stream: it streams and needs no temporary file), so it may come from standard input and
 * memory does not grow with its size.
 *
 * A hard link in a tar archive carries no content: it names an earlier entry. From a file, the
 * archive is read again after the first pass and each link gets its target's content (one more
 * pass per link to the same target: links are rare); the target and its links share a link
 * count and an inode number, so restore makes them one file again. From standard input, which
 * cannot be read twice, a hard link is a scan error naming its target.
 */
export class TarImporter implements Importer {
  readonly type: string
  readonly origin = hostname()
  readonly root = '/'
  readonly #input: Input
  readonly #gzip: boolean | undefined

  constructor(input: Input, gzip: boolean | undefined, type = 'tar') {
    this.#input = input
    this.#gzip = gzip
    this.type = type
  }

  async *scan(options: ScanOptions): AsyncGenerator<ImportRecord | ScanError> {
    /** Hard links by the path of their target, in archive order. */
    const links = new Map<string, {path: string; info: FileInfo}[]>()
    const pruned: string[] = []
    const skipped = (path: string, isDirectory: boolean): boolean => {
      if (pruned.some((dir) => path.startsWith(`${dir}/`))) return true
      if (path === '/' || !options.skip?.(path, isDirectory)) return false
      if (isDirectory) pruned.push(path)
      return true
    }
    for await (const {header, entry} of this.#entries(options.signal)) {
      let path: string
      try {
        path = recordPathOf(header.name)
      } catch (error) {
        entry.resume()
        yield {path: `/${header.name.replace(/\0/g, '')}`, error: (error as Error).message}
        continue
      }
      const info = infoOf(header)
      if (skipped(path, info.type === 'directory')) {
        entry.resume()
        continue
      }
      if (header.type === 'link') {
        entry.resume()
        let target: string
        try {
          target = recordPathOf(header.linkname ?? '')
        } catch (error) {
          yield {path, error: `hard link: ${(error as Error).message}`}
          continue
        }
        if (!rereadable(this.#input)) {
          const from = this.#input.kind === 'stdin' ? 'standard input' : 'a FIFO'
          yield {path, error: `a hard link to ${target}: its content cannot be read again from ${from} (give the archive as a regular file)`, info: {...info, type: 'file'}}
          continue
        }
        const list = links.get(target) ?? []
        list.push({path, info: {...info, type: 'file'}})
        links.set(target, list)
        continue
      }
      if (info.type === 'file') {
        const {record, consumed} = sequentialRecord(path, info, entry)
        yield record
        await abortable(consumed, options.signal)
        continue
      }
      entry.resume()
      const record: ImportRecord = {path, info}
      if (info.type === 'symlink') record.target = header.linkname ?? ''
      yield record
    }
    // Hard links: the target and its links become one file with several names (nlink, and an
    // inode number of the archive's own: restore links them again). Pass 0 stages the target
    // once more with that link count (the last staged entry of a path wins); pass n gives the
    // n-th link the target's content (read again: the archive is a stream, links are rare).
    const groups = [...links.keys()]
    const inode = new Map(groups.map((target, i) => [target, i + 1]))
    const linked = (target: string): Partial<FileInfo> => ({nlink: links.get(target)!.length + 1, ino: inode.get(target)!, dev: 0})
    const passes = groups.length === 0 ? 0 : 1 + Math.max(...[...links.values()].map((list) => list.length))
    for (let pass = 0; pass < passes; pass++) {
      const found = new Set<string>()
      for await (const {header, entry} of this.#entries(options.signal)) {
        let path: string
        try {
          path = recordPathOf(header.name)
        } catch {
          entry.resume()
          continue
        }
        const list = header.type !== 'link' && typeOf(header) === 'file' ? links.get(path) : undefined
        const name = pass === 0 ? (list && !skipped(path, false) ? {path, info: infoOf(header)} : undefined) : list?.[pass - 1]
        if (!name || found.has(path)) {
          entry.resume()
          continue
        }
        found.add(path)
        const {record, consumed} = sequentialRecord(name.path, {...infoOf(header), ...timesOf(name.info), size: header.size ?? 0, ...linked(path)}, entry)
        yield record
        await abortable(consumed, options.signal)
      }
      if (pass === 0) continue
      for (const [target, list] of links) {
        if (list[pass - 1] && !found.has(target)) yield {path: list[pass - 1].path, error: `a hard link to ${target}, which the archive does not hold as a regular file`, info: list[pass - 1].info}
      }
    }
  }

  /** Each entry of the archive with its header; the caller consumes or resumes each entry. */
  async *#entries(signal: AbortSignal): AsyncGenerator<{header: Header; entry: EntryStream}> {
    // Destroyed on abort (by openInput): a read waiting for a writer that never writes ends,
    // and with it the extraction below.
    const input = await openInput(this.#input, this.#gzip, signal)
    const extract = tarStream.extract()
    input.on('error', (error) => extract.destroy(error))
    input.pipe(extract as unknown as NodeJS.WritableStream)
    try {
      for await (const entry of extract) {
        signal.throwIfAborted()
        yield {header: entry.header as Header, entry: entry as unknown as EntryStream}
      }
    } catch (error) {
      // Stopped, not a damaged archive.
      signal.throwIfAborted()
      throw new PlakarError(`${this.#input.kind === 'stdin' ? 'standard input' : this.#input.path} is not a readable tar archive: ${(error as Error).message}`)
    } finally {
      if (this.#input.kind === 'file') input.destroy()
    }
  }

  async close(): Promise<void> {}
}

function timesOf(info: FileInfo): Partial<FileInfo> {
  return {mtime: info.mtime, atime: info.atime, ctime: info.ctime}
}

/** The entry's FileInfo: pax times keep their fraction of a second. */
function infoOf(header: Header): FileInfo {
  const paxTime = (key: string) => {
    const value = header.pax?.[key]
    const seconds = value === undefined ? Number.NaN : Number.parseFloat(value)
    return Number.isFinite(seconds) ? seconds * 1000 : undefined
  }
  const info: FileInfo = {type: typeOf(header), size: 0}
  if (info.type === 'file') info.size = header.size ?? 0
  if (header.mode !== undefined) info.mode = header.mode & 0o7777
  const mtime = paxTime('mtime') ?? header.mtime?.getTime()
  if (mtime !== undefined) info.mtime = mtime
  const atime = paxTime('atime')
  if (atime !== undefined) info.atime = atime
  const ctime = paxTime('ctime')
  if (ctime !== undefined) info.ctime = ctime
  if (header.uid !== undefined) info.uid = header.uid
  if (header.gid !== undefined) info.gid = header.gid
  if (header.uname) info.username = header.uname
  if (header.gname) info.groupname = header.gname
  if (info.type === 'device') info.rdev = ((header.devmajor ?? 0) << 8) | (header.devminor ?? 0)
  return info
}

function typeOf(header: Header): FileInfo['type'] {
  switch (header.type) {
    case 'file':
    case 'contiguous-file':
    case 'link':
    case undefined:
    case null:
      return 'file'
    case 'directory':
      return 'directory'
    case 'symlink':
      return 'symlink'
    case 'character-device':
    case 'block-device':
      return 'device'
    case 'fifo':
      return 'pipe'
    default:
      return 'unknown'
  }
}

export default async function createTarImporter(context: ConnectorContext): Promise<Importer> {
  // Fail now on a missing or unreadable file, before the backup starts (without reading it).
  const input = await checkInput(parseInput(context.location))
  return new TarImporter(input, context.scheme === 'tgz' ? true : undefined, context.scheme)
}
