import {finished, Readable} from 'node:stream'
import {onAbort} from './abort.js'

/**
 * Every byte of `stream` in one buffer; with `expected`, exactly that many or an ESHORTREAD
 * error. The stream's error, or its closing before its end, rejects. `into` (with `expected`,
 * of that length): the buffer to fill and resolve with, instead of a new one.
 */
export function readAll(stream: Readable, expected?: number, into?: Buffer): Promise<Buffer> {
  if (into && into.length !== expected) throw new RangeError(`readAll: a buffer of ${into.length} bytes for ${expected} expected`)
  // With the size known, each piece is copied into one buffer as it comes and dropped: no list
  // of pieces held until a concatenation that doubles the bytes (a packfile range of restore).
  const whole = expected !== undefined && expected > 0 ? (into ?? Buffer.allocUnsafeSlow(expected)) : undefined
  const parts: Buffer[] = []
  let size = 0
  // 'data' events rather than an async iterator: a range of several MB comes in hundreds of
  // pieces, and the iterator's promise per piece was measurable on restore's busy main thread.
  return new Promise<Buffer>((resolve, reject) => {
    stream.on('data', (part: Buffer | string) => {
      const buf = typeof part === 'string' ? Buffer.from(part) : part
      if (whole) {
        if (size + buf.length <= whole.length) whole.set(buf, size)
      } else {
        parts.push(buf)
      }
      size += buf.length
    })
    finished(stream, (error) => {
      if (error) return reject(error)
      if (expected !== undefined && size !== expected) {
        return reject(Object.assign(new Error(`short read: expected ${expected} bytes, got ${size}`), {code: 'ESHORTREAD'}))
      }
      resolve(whole ?? (parts.length === 1 ? parts[0] : Buffer.concat(parts, size)))
    })
  })
}

/** A readable over buffers that are already in memory, without concatenating them. */
export function readableFrom(parts: Buffer[]): Readable {
  return Readable.from(parts, {objectMode: false})
}

/**
 * Destroys `stream` with the signal's reason when `signal` aborts, until the stream closes: a
 * put or a read waiting on it ends at once. Unlike node:stream's addAbortSignal, an aborted
 * stream that nobody reads any more (a source already handed back, a get left unread) cannot
 * crash the process with an unhandled 'error' event. Returns the stream.
 */
export function destroyOnAbort<T extends NodeJS.ReadableStream & {destroy(error?: Error): unknown; destroyed?: boolean}>(stream: T, signal: AbortSignal | undefined): T {
  if (!signal) return stream
  const stop = () => {
    stream.on('error', () => {})
    if (!stream.destroyed) stream.destroy(signal.reason as Error)
  }
  if (signal.aborted) {
    stop()
    return stream
  }
  stream.once('close', onAbort(signal, stop))
  return stream
}
