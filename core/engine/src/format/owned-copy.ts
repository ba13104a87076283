/**
 * A copy of `bytes` in an ArrayBuffer of exactly its size, never a slice of Node's 8 KiB buffer
 * pool (Buffer.from and Buffer.allocUnsafe take small buffers from it). Such a buffer can be
 * moved to another thread, and a copy of it costs only its own bytes: posting a pooled 40-byte
 * view copied the whole slab, and whatever kept the copy kept 8 KiB.
 */
export function ownedCopy(bytes: Uint8Array): Buffer {
  const copy = Buffer.allocUnsafeSlow(bytes.length)
  copy.set(bytes)
  return copy
}
