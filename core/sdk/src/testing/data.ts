import {createCipheriv, createHash, randomBytes} from 'node:crypto'
import {Readable} from 'node:stream'
import {mapConcurrent} from '../concurrency.js'

/**
 * Deterministic pseudo-random content for conformance suites and plugin tests.
 *
 * Bytes are the AES-256-CTR keystream under a key derived from `seed`, so any slice
 * (`offset`, `length`) can be computed on its own without generating what precedes it: a suite
 * can verify a range read of a 64 MiB object without ever holding the object in memory.
 * The same `seed` always gives the same bytes, on every machine and in every version.
 */
function keystream(seed: string | number, offset: number) {
  const key = createHash('sha256').update(`plakar-testing:${seed}`).digest()
  const block = Math.floor(offset / 16)
  const iv = Buffer.alloc(16)
  iv.writeBigUInt64BE(BigInt(block), 8)
  return {cipher: createCipheriv('aes-256-ctr', key, iv), skip: offset - block * 16}
}

/** `length` bytes of the content of `seed`, starting at `offset`. */
export function pseudoRandomBytes(seed: string | number, offset: number, length: number): Buffer {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw new RangeError(`invalid slice ${offset}+${length}`)
  }
  const {cipher, skip} = keystream(seed, offset)
  return cipher.update(Buffer.alloc(skip + length)).subarray(skip)
}

export interface StreamOptions {
  /** Bytes per chunk pushed into the stream (default 1 MiB): bounds the memory it holds. */
  chunkSize?: number
  /** Start at this offset of the content (default 0). */
  offset?: number
}

/**
 * A readable stream of `size` bytes of the content of `seed`, generated chunk by chunk: it never
 * holds more than one chunk, whatever `size` is.
 */
export function pseudoRandomStream(seed: string | number, size: number, options: StreamOptions = {}): Readable {
  const chunkSize = options.chunkSize ?? 1024 * 1024
  const start = options.offset ?? 0
  return Readable.from(
    (function* () {
      const {cipher, skip} = keystream(seed, start)
      if (skip > 0) cipher.update(Buffer.alloc(skip))
      const zeros = Buffer.alloc(chunkSize)
      for (let done = 0; done < size; ) {
        const n = Math.min(chunkSize, size - done)
        // A fresh buffer per chunk: a consumer may keep the chunks it was given.
        yield cipher.update(n === chunkSize ? zeros : zeros.subarray(0, n))
        done += n
      }
    })(),
    {objectMode: false},
  )
}

/** Size and SHA-256 of everything a stream yields, without keeping it. */
export async function digestStream(stream: AsyncIterable<unknown> | Iterable<unknown>): Promise<{size: number; sha256: string}> {
  const hash = createHash('sha256')
  let size = 0
  for await (const part of stream) {
    const buf = typeof part === 'string' ? Buffer.from(part) : (part as Uint8Array)
    hash.update(buf)
    size += buf.length
  }
  return {size, sha256: hash.digest('hex')}
}

/** Size and SHA-256 of the content of `seed` (computed in chunks; nothing large is held). */
export async function pseudoRandomDigest(seed: string | number, size: number): Promise<{size: number; sha256: string}> {
  return digestStream(pseudoRandomStream(seed, size))
}

/** A random lowercase hex id of `bytes` bytes (64 hex digits by default), like the engine's ids. */
export function randomId(bytes = 32): string {
  return randomBytes(bytes).toString('hex')
}

/** Every byte of a stream in one buffer. For small test objects only. */
export async function collect(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const part of stream) parts.push(typeof part === 'string' ? Buffer.from(part) : Buffer.from(part as Uint8Array))
  return Buffer.concat(parts)
}

/** Runs `fn` over `items` with at most `limit` calls in flight; rejects with the first error. */
export const mapLimit = mapConcurrent
