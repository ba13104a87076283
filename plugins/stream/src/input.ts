import {constants, createReadStream, fstat, open as openFd} from 'node:fs'
import {access, open, stat} from 'node:fs/promises'
import {Socket} from 'node:net'
import {resolve} from 'node:path'
import type {Readable} from 'node:stream'
import {promisify} from 'node:util'
import {createGunzip} from 'node:zlib'
import {destroyOnAbort, NotFoundError, UsageError} from '@plakar/sdk'

/**
 * Where an archive comes from: a file, or standard input ("-"). A FIFO (named pipe) is a file
 * that, like standard input, can be read only once.
 */
export type Input = {kind: 'file'; path: string; fifo?: boolean} | {kind: 'stdin'}

/** "tar:/x.tar", "tar:x.tar", "tar://x.tar", "tgz:-" → the input. */
export function parseInput(location: string): Input {
  const rest = location.replace(/^[a-z]+:(\/\/)?/i, '')
  if (rest === '' || rest === '-') return {kind: 'stdin'}
  return {kind: 'file', path: resolve(rest)}
}

/** Whether the archive can be read a second time (hard links are read again): a regular file only. */
export function rereadable(input: Input): boolean {
  return input.kind === 'file' && !input.fifo
}

/**
 * Checks, before the backup starts, that the archive exists and can be read, without reading
 * it: a FIFO's bytes can be read once only, and it is not even opened (opening it would let a
 * writer waiting in its own open() go on, to write to a reader that closes at once). Returns
 * the input, marked when it is a FIFO.
 */
export async function checkInput(input: Input): Promise<Input> {
  if (input.kind === 'stdin') {
    if (process.stdin.isTTY) throw new UsageError('standard input is a terminal: pipe the archive in, or name a file (tar:FILE)')
    return input
  }
  const fail = (error: unknown) => unreadable(input.path, error)
  if ((await stat(input.path).catch(fail)).isFIFO()) {
    await access(input.path, constants.R_OK).catch(fail)
    return {...input, fifo: true}
  }
  await (await open(input.path, 'r').catch(fail)).close()
  return input
}

const GZIP_MAGIC = [0x1f, 0x8b]

/**
 * The archive's bytes, gunzipped when `gzip` is true, or when it is undefined and the data
 * starts with the gzip magic number (so tar: reads a .tar.gz too). Destroyed when `signal`
 * aborts: a read waiting for bytes (a FIFO or a pipe with no writer, a writer that stalls)
 * ends at once, and so does the backup (Ctrl-C).
 */
export async function openInput(input: Input, gzip: boolean | undefined, signal?: AbortSignal): Promise<Readable> {
  let raw: Readable
  if (input.kind === 'stdin') {
    if (process.stdin.isTTY) throw new UsageError('standard input is a terminal: pipe the archive in, or name a file (tar:FILE)')
    raw = process.stdin
  } else {
    raw = await openFile(input.path)
  }
  destroyOnAbort(raw, signal)
  // The first chunk is looked at and put back (a file or pipe chunk holds far more than 2 bytes).
  const first = await nextChunk(raw)
  if (first) raw.unshift(first)
  const isGzip = gzip ?? (first !== null && first.length >= 2 && first[0] === GZIP_MAGIC[0] && first[1] === GZIP_MAGIC[1])
  if (!isGzip) return raw
  const gunzip = createGunzip()
  raw.on('error', (error) => gunzip.destroy(error))
  return raw.pipe(gunzip)
}

/**
 * A file's bytes. A FIFO is opened with O_NONBLOCK and read as a pipe, through the event loop:
 * a blocking open() or read() of a FIFO with no writer would wait in libuv's thread pool, where
 * nothing can cancel it, and the process could not even exit after Ctrl-C (Node waits for its
 * pool's threads as it exits). A regular file is read as usual (O_NONBLOCK does nothing to it).
 */
async function openFile(path: string): Promise<Readable> {
  let fd: number
  try {
    // Opened here, not lazily by the stream, so a missing file is one clear error before the scan.
    fd = await promisify(openFd)(path, constants.O_RDONLY | constants.O_NONBLOCK)
  } catch (error) {
    unreadable(path, error)
  }
  const info = await promisify(fstat)(fd)
  // Until a writer comes, epoll reports nothing for a FIFO opened this way (Linux shows no
  // hang-up before it has seen a writer): the stream waits; the writer's close is its end.
  if (info.isFIFO()) return new Socket({fd, readable: true, writable: false})
  return createReadStream('', {fd, highWaterMark: 1024 * 1024})
}

/** The one-line error for an archive that cannot be opened: missing (66) or unreadable (2). */
function unreadable(path: string, error: unknown): never {
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'ENOENT') throw new NotFoundError(`${path}: no such archive`)
  throw new UsageError(`cannot read ${path}: ${code ?? (error as Error).message}`)
}

function nextChunk(stream: Readable): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    if (stream.readableEnded) return resolve(null)
    const cleanup = () => {
      stream.off('readable', onReadable)
      stream.off('end', onEnd)
      stream.off('error', onError)
    }
    const onReadable = () => {
      const chunk = stream.read() as Buffer | null
      if (chunk === null) return
      cleanup()
      resolve(chunk)
    }
    const onEnd = () => {
      cleanup()
      resolve(null)
    }
    const onError = (error: Error) => {
      cleanup()
      reject(error)
    }
    stream.on('readable', onReadable)
    stream.on('end', onEnd)
    stream.on('error', onError)
  })
}
