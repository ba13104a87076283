import {Readable} from 'node:stream'
import {abortable, destroyOnAbort, onAbort} from '@plakar/sdk'
import type {InputAttributes} from 'ssh2'
import type {SftpConnector} from './connector.js'
import {finalError, isConnectionLost, normalize, SftpOpError} from './errors.js'
import type {SftpSession} from './session.js'

/** Bytes of WRITE or READ requests in flight per transfer: keeps the link busy across round trips. */
export const WINDOW = 4 * 1024 * 1024

/** An error of the data source itself: never worth a retry of the transfer. */
export class SourceError extends Error {
  readonly transient = false
  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), {cause})
    this.name = 'SourceError'
  }
}

export interface UploadOptions {
  /** Bytes the source must deliver; more or fewer is an error. */
  size?: number
  /** Permission bits of the new file (default 0600). */
  mode?: number
  /** Applied with FSETSTAT once the data is written (mode, times, owner). */
  attrs?: InputAttributes
  /** Name for messages. */
  what?: string
  /** Flush the file to the server's disk before closing it (fsync@openssh.com). Default true. */
  fsync?: boolean
  /** Stops the upload: no WRITE is sent after it, the handle is dropped, the call rejects at once. */
  signal?: AbortSignal
}

interface Piece {
  position: number
  data: Buffer
  acked: boolean
}

/**
 * Writes a stream to a new remote file (created exclusively: never through a planted symlink),
 * WRITE requests pipelined up to {@link WINDOW} bytes, then sets its attributes and fsyncs it
 * (fsync@openssh.com, unless told not to). When the connection is lost, it reconnects, reopens
 * the file and resends only what the server had not acknowledged: it keeps no more than the
 * window of the source in memory, whatever the file's size. Gives up after the connector's
 * number of attempts without progress. Returns the bytes written.
 */
export async function upload(connector: SftpConnector, path: string, source: Readable, options: UploadOptions = {}): Promise<number> {
  const what = options.what ?? path
  // An abort destroys the source too, so an upload waiting for its next chunk ends at once.
  destroyOnAbort(source, options.signal)
  const iterator = source[Symbol.asyncIterator]()
  const unacked: Piece[] = []
  let unackedBytes = 0
  let carry: Buffer | undefined
  let sourceDone = false
  let position = 0
  let created = false
  let failures = 0
  const signal = options.signal

  const nextChunk = async (): Promise<Buffer | undefined> => {
    if (carry) {
      const chunk = carry
      carry = undefined
      return chunk
    }
    if (sourceDone) return undefined
    let next: IteratorResult<unknown>
    try {
      next = await iterator.next()
    } catch (error) {
      throw new SourceError(error)
    }
    if (next.done) {
      sourceDone = true
      return undefined
    }
    const v = next.value
    return typeof v === 'string' ? Buffer.from(v) : Buffer.isBuffer(v) ? v : Buffer.from(v as Uint8Array)
  }

  try {
    return await connector.slot(async () => {
      for (;;) {
        let session: SftpSession | undefined
        let handle: Buffer | undefined
        const inflight = new Set<Promise<void>>()
        let failure: unknown
        let progressed = false
        try {
          signal?.throwIfAborted()
          session = await abortable(connector.session(), signal)
          const s = session
          const h = (handle = await abortable(s.open(path, created ? 'r+' : 'wx', {mode: options.mode ?? 0o600}), signal))
          created = true
          const send = (piece: Piece) => {
            const request: Promise<void> = s
              .write(h, piece.data, piece.position)
              .then(
                () => {
                  piece.acked = true
                  progressed = true
                  while (unacked.length > 0 && unacked[0].acked) unackedBytes -= unacked.shift()!.data.length
                },
                (error) => {
                  failure ??= error
                },
              )
              .finally(() => inflight.delete(request))
            inflight.add(request)
          }
          // After a reconnection: what the server never acknowledged, again.
          for (const piece of unacked) if (!piece.acked) send(piece)
          for (;;) {
            while (unackedBytes >= WINDOW && failure === undefined) await abortable(Promise.race(inflight), signal)
            if (failure !== undefined) throw failure
            signal?.throwIfAborted()
            let chunk = await nextChunk()
            if (chunk === undefined) break
            if (chunk.length > s.maxWrite) {
              carry = chunk.subarray(s.maxWrite)
              chunk = chunk.subarray(0, s.maxWrite)
            }
            if (chunk.length === 0) continue
            if (options.size !== undefined && position + chunk.length > options.size) {
              throw new SourceError(new Error(`${what}: the data is longer than the announced ${options.size} bytes`))
            }
            const piece = {position, data: chunk, acked: false}
            position += chunk.length
            unacked.push(piece)
            unackedBytes += chunk.length
            send(piece)
          }
          await abortable(Promise.all(inflight), signal)
          if (failure !== undefined) throw failure
          if (options.size !== undefined && position !== options.size) {
            throw new SourceError(new Error(`${what}: short write, expected ${options.size} bytes, got ${position}`))
          }
          if (options.attrs) await abortable(s.fsetstat(h, options.attrs), signal)
          if (options.fsync !== false) await abortable(s.fsync(h), signal)
          await abortable(s.close(h), signal)
          return position
        } catch (error) {
          if (signal?.aborted) {
            // Stop now: writes still in flight are answered to a forgotten handle.
            if (session && handle) session.forget(handle)
            throw signal.reason
          }
          await Promise.allSettled(inflight)
          if (session && handle) session.forget(handle)
          if (progressed) failures = 0
          const transient = error instanceof SftpOpError ? error.transient : isConnectionLost(error) && !(error instanceof SourceError)
          if (!transient || ++failures >= connector.attempts) {
            throw finalError(transient && !(error instanceof SftpOpError) ? normalize(error, 'write', what) : error, connector.server, failures)
          }
          connector.invalidate(session, error)
          await connector.pause(failures, signal)
        }
      }
    })
  } finally {
    if (!sourceDone) source.destroy()
  }
}

export interface DownloadOptions {
  /** Stops the read: no READ is sent after it, the stream ends with the signal's reason. */
  signal?: AbortSignal
  /** First byte to read. */
  offset?: number
  /** Bytes to read; the whole rest of the file when undefined. */
  length?: number
  /**
   * A handle already open on `path` (get() opens it first to report a missing file at once).
   * With `release`, the handle is borrowed (from a cache of open files): it is handed back
   * instead of closed. With `size`, no FSTAT is needed.
   */
  opened?: {session: SftpSession; handle: Buffer; size?: Promise<number>; release?: () => void}
  /** Checked against the file's size once it is known (range past the end → error). */
  check?: (size: number) => void
  /** Name for messages. */
  what?: string
}

/**
 * A stream of a remote file's bytes, READ requests pipelined up to {@link WINDOW} ahead of the
 * reader. If the connection is lost, it reconnects and resumes from the first byte not yet
 * delivered; it gives up after the connector's number of attempts without progress.
 */
export function downloadStream(connector: SftpConnector, path: string, options: DownloadOptions = {}): Readable {
  const stream = Readable.from(download(connector, path, options), {objectMode: false})
  const signal = options.signal
  if (signal) {
    // The consumer may be idle between reads: end the stream (and so the READs) at once.
    stream.once('close', onAbort(signal, () => stream.destroy(signal.reason as Error)))
  }
  return stream
}

async function* download(connector: SftpConnector, path: string, options: DownloadOptions): AsyncGenerator<Buffer> {
  let position = options.offset ?? 0
  let end = options.length === undefined ? undefined : position + options.length
  let opened = options.opened
  let failures = 0
  let checked = options.check === undefined
  const what = options.what ?? path
  for (;;) {
    let session: SftpSession | undefined
    let handle: Buffer | undefined
    let release: (() => void) | undefined
    let knownSize: Promise<number> | undefined
    const pending: {position: number; length: number; data: Promise<Buffer>}[] = []
    try {
      if (opened) {
        ;({session, handle, release, size: knownSize} = opened)
        opened = undefined
      } else {
        options.signal?.throwIfAborted()
        session = await abortable(connector.session(), options.signal)
        handle = await abortable(session.open(path, 'r'), options.signal)
      }
      const s = session
      const h = handle
      // The size: needed first for a whole-file read; for a range, asked for alongside the first
      // READs (one round trip for both) and checked before any data is given out.
      let sizeCheck: Promise<void> | undefined
      const size = () => knownSize ?? s.fstat(h).then((stats) => stats.size ?? 0)
      if (end === undefined) {
        const size_ = await size()
        end = size_
        if (!checked) {
          options.check!(size_)
          checked = true
        }
      } else if (!checked) {
        sizeCheck = size().then((known) => {
          options.check!(known)
          checked = true
        })
        sizeCheck.catch(() => {}) // awaited below
      }
      const stop = end
      let next = position
      let queued = 0
      const request = (at: number, length: number) => {
        const data = s.read(h, Buffer.allocUnsafe(length), length, at)
        data.catch(() => {}) // observed when its turn comes
        return {position: at, length, data}
      }
      const fill = () => {
        while (next < stop && queued < WINDOW) {
          const length = Math.min(s.maxRead, stop - next)
          pending.push(request(next, length))
          next += length
          queued += length
        }
      }
      fill()
      if (sizeCheck) await sizeCheck
      while (position < stop) {
        const head = pending.shift()!
        const data = await abortable(head.data, options.signal)
        queued -= head.length
        if (data.length === 0) {
          throw new SftpOpError(`${what}: the file ends at ${position} bytes, ${stop} were expected (truncated?)`, 'ESHORTREAD', false)
        }
        if (data.length < head.length) {
          // A short read (allowed by SFTP): ask for the rest before anything queued after it.
          pending.unshift(request(head.position + data.length, head.length - data.length))
          queued += head.length - data.length
        }
        position += data.length
        failures = 0
        fill()
        yield data
      }
      return
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason
      const e = error instanceof SftpOpError ? error : isConnectionLost(error) ? normalize(error, 'read', what) : error
      if (!(e instanceof SftpOpError && e.transient) || ++failures >= connector.attempts) throw finalError(e, connector.server, failures)
      connector.invalidate(session, e)
      await connector.pause(failures, options.signal)
    } finally {
      // Also when the reader stops early (destroy): the handle is closed, late replies ignored.
      for (const p of pending) p.data.catch(() => {})
      if (release) release()
      else if (session && handle) session.forget(handle)
    }
  }
}
