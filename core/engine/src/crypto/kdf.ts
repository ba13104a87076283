import {randomBytes} from 'node:crypto'

export interface KdfParams {
  algorithm: 'argon2id'
  salt: Uint8Array
  /** KiB of memory. */
  memory: number
  iterations: number
  parallelism: number
}

/**
 * Defaults follow RFC 9106's second recommended option scaled to what a 2-core laptop does in
 * about a quarter of a second: 64 MiB, 3 passes, 2 lanes.
 */
export function defaultKdfParams(): KdfParams {
  return {algorithm: 'argon2id', salt: randomBytes(16), memory: 64 * 1024, iterations: 3, parallelism: 2}
}

/** Argon2id from @node-rs/argon2 (prebuilt, runs off the main thread); Node 20 has none built in. */
export async function deriveKeyFromPassphrase(passphrase: Uint8Array, params: KdfParams): Promise<Buffer> {
  if (params.algorithm !== 'argon2id') throw new Error(`unsupported KDF ${params.algorithm}`)
  const {hashRaw, Algorithm} = await import('@node-rs/argon2')
  return hashRaw(Buffer.from(passphrase), {
    algorithm: Algorithm.Argon2id,
    salt: Buffer.from(params.salt),
    memoryCost: params.memory,
    timeCost: params.iterations,
    parallelism: params.parallelism,
    outputLen: 32,
  })
}
