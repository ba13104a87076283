import {Readable} from 'node:stream'

export async function readAll(stream: Readable, expected?: number): Promise<Buffer> {
  const parts: Buffer[] = []
  let size = 0
  for await (const part of stream) {
    const buf = typeof part === 'string' ? Buffer.from(part) : (part as Buffer)
    parts.push(buf)
    size += buf.length
  }
  const all = parts.length === 1 ? parts[0] : Buffer.concat(parts, size)
  if (expected !== undefined && all.length !== expected) {
    throw Object.assign(new Error(`short read: expected ${expected} bytes, got ${all.length}`), {code: 'ESHORTREAD'})
  }
  return all
}

/** A readable over buffers that are already in memory, without concatenating them. */
export function readableFrom(parts: Buffer[]): Readable {
  return Readable.from(parts, {objectMode: false})
}
