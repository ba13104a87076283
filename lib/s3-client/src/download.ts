import {finished, Readable} from 'node:stream'
import {delay as wait, onAbort, PlakarError} from '@plakar/sdk'
import {isTransient} from './errors.js'
import {describeBriefly, type S3Session} from './session.js'
import {objectHead, type ObjectHead} from './wire.js'

/** An object's headers and its body, as GET answered them. */
type Got = ObjectHead & {Body: Readable}

export interface ReadOptions {
  /** First byte and number of bytes; the whole object when absent. */
  offset?: number
  length?: number
  /** The object must still be this version (its ETag) — resumed reads always pin it. */
  etag?: string
  /** What is being read, for messages. */
  what: string
  /** Turns a "missing object" error into what the caller throws. */
  missing?: (error: unknown) => Error | undefined
  missingBucketHint?: string
  /** Stops the read: the request in flight is aborted, the stream ends with the signal's reason. */
  signal?: AbortSignal
}

/** The "x-y/total" of a Content-Range header. */
function parseContentRange(value: string | undefined): {start: number; end: number; total: number} | undefined {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(value ?? '')
  return m ? {start: Number(m[1]), end: Number(m[2]), total: m[3] === '*' ? Number.NaN : Number(m[3])} : undefined
}

/**
 * Opens an object (or a byte range of it) for reading. The response headers are awaited, so a
 * missing object or refused credentials fail here; the body then streams lazily. When the body
 * breaks off (reset connection, stall timeout), the read resumes from the last byte received
 * with a new ranged GET pinned to the same ETag, within the session's retry budget: consumers
 * see one uninterrupted stream, or one error after the last attempt.
 */
export async function openObject(session: S3Session, key: string, options: ReadOptions): Promise<{stream: Readable; response: ObjectHead}> {
  const start = options.offset ?? 0
  const wanted = options.length
  const request = async (from: number, etag: string | undefined) => {
    const range = wanted !== undefined ? `bytes=${from}-${start + wanted - 1}` : from > 0 ? `bytes=${from}-` : undefined
    const got = await session.send(
      options.what,
      {method: 'GET', key, headers: {range, 'if-match': etag}},
      {passthrough: (e) => options.missing?.(e) !== undefined, missingBucketHint: options.missingBucketHint, signal: options.signal},
    )
    return {...objectHead(got.headers), Body: got.body} satisfies Got
  }
  let response: Got
  try {
    response = await request(start, options.etag)
  } catch (error) {
    throw options.missing?.(error) ?? error
  }
  const etag = options.etag ?? response.ETag
  if (wanted !== undefined) {
    const got = parseContentRange(response.ContentRange)
    const length = got ? got.end - got.start + 1 : response.ContentLength
    if (length !== wanted || (got && got.start !== start)) {
      ;(response.Body as Readable | undefined)?.destroy()
      throw new PlakarError(`${options.what}: range ${start}+${wanted} is outside the object (${got ? `size ${got.total}` : `got ${length} bytes`})`)
    }
  }
  const expected = wanted ?? response.ContentLength ?? 0
  let current: Got = response
  let received = 0
  let failures = 0
  let receivedAtFailure = -1
  // The body's pieces are pushed as they arrive ('data' events, paused while the consumer is
  // full): no async generator and Readable.from between the socket and the consumer, whose
  // promises per piece were measurable on restore's busy main thread.
  const stream = new Readable({
    read() {
      ;(current.Body as Readable | undefined)?.resume()
    },
    destroy(error, callback) {
      ;(current.Body as Readable | undefined)?.destroy()
      callback(error)
    },
  })
  const follow = (body: Readable) => {
    body.on('data', (chunk: Buffer) => {
      if (stream.destroyed) return
      received += chunk.length
      if (!stream.push(chunk)) body.pause()
    })
    finished(body, (error) => {
      if (stream.destroyed || body !== current.Body) return
      if (!error && received >= expected) {
        stream.push(null)
        return
      }
      body.destroy()
      void broken(error ?? Object.assign(new Error(`the body ended after ${received} of ${expected} bytes`), {code: 'ERR_STREAM_PREMATURE_CLOSE'})).catch((why: unknown) => {
        stream.destroy(why as Error)
      })
    })
  }
  /** The body broke off: resumes from the last byte received, or throws what to end the stream with. */
  const broken = async (error: unknown) => {
    if (options.signal?.aborted) throw options.signal.reason
    if (received >= expected && expected > 0) {
      stream.push(null)
      return
    }
    // The retry budget is per stall: a long read that keeps making progress may break often.
    if (received > receivedAtFailure) failures = 0
    receivedAtFailure = received
    failures++
    if (!isTransient(error) || failures >= session.settings.attempts) {
      throw session.translate(error, `${options.what} (${received} of ${expected} bytes received)`, failures)
    }
    const delay = session.retryDelay(failures)
    session.debug(`${options.what}: ${describeBriefly(error)} after ${received} bytes; resuming in ${Math.round(delay)} ms`)
    await wait(delay, options.signal)
    const next = await request(start + received, etag).catch((e) => {
      throw options.missing?.(e) ?? e
    })
    if (stream.destroyed) {
      ;(next.Body as Readable | undefined)?.destroy()
      return
    }
    current = next
    follow(current.Body as Readable)
  }
  follow(current.Body as Readable)
  if (options.signal) {
    // The body may be idle between reads (the consumer is slow): end it at once on abort.
    const signal = options.signal
    const stop = () => {
      ;(current.Body as Readable | undefined)?.destroy()
      stream.destroy(signal.reason as Error)
    }
    stream.once('close', onAbort(signal, stop))
  }
  return {stream, response}
}
