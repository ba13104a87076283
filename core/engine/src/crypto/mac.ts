import {Blake3Hasher} from '@napi-rs/blake-hash'

/** Length of every MAC, chunk id, packfile id and state id, in bytes. */
export const MAC_LENGTH = 32

/**
 * Keyed BLAKE3: chunk ids, packfile ids and state ids. Keyed so that the storage never sees a
 * plain digest of the user's data (a plain digest would confirm guesses about file contents).
 */
export class Mac {
  readonly #key: Buffer
  /**
   * One keyed hasher, reset for each one-shot digest: creating a keyed hasher per message costs
   * as much as hashing 4 KiB (test/bench/choices.mjs mac: 0.65 GB/s new per message against
   * 1.28 GB/s reset, on 4 KiB messages). digest() is synchronous, so nothing can interleave.
   */
  readonly #hasher: Blake3Hasher
  constructor(key: Uint8Array) {
    if (key.length !== 32) throw new Error('MAC key must be 32 bytes')
    this.#key = Buffer.from(key)
    this.#hasher = Blake3Hasher.newKeyed(this.#key)
  }

  digest(...parts: Uint8Array[]): Buffer {
    const hasher = this.#hasher
    hasher.reset()
    for (const part of parts) hasher.update(part)
    return hasher.digestBuffer()
  }

  /** An incremental MAC for data that arrives in pieces. */
  stream(): {update(data: Uint8Array): void; digest(): Buffer} {
    const hasher = Blake3Hasher.newKeyed(this.#key)
    return {
      update: (data) => void hasher.update(data),
      digest: () => hasher.digestBuffer(),
    }
  }
}

/** BLAKE3 in key-derivation mode: a 32-byte key for `context` from `material`. */
export function deriveKey(context: string, material: Uint8Array): Buffer {
  return Blake3Hasher.deriveKey(context, material)
}
