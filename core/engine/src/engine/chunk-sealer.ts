import type {KeySet} from '../crypto/keys.js'
import {sealBlob} from '../format/blob.js'
import {BlobType} from '../format/blob-type.js'
import type {Compressor} from '../format/compression.js'

/** A chunk's id, its length, and its sealed bytes when the repository lacks it. */
export interface SealedChunk {
  mac: Buffer
  length: number
  sealed?: Buffer
}

/**
 * The one route by which file content becomes sealed chunks, on a chunking worker or, without
 * workers (code run from TypeScript sources), on the main thread: MAC the chunk, ask the
 * repository index whether it is known (`known`: the cache's KNOWN_BLOB query), and compress
 * and seal it only when it is not. What this run sealed and has not published yet is the
 * writer's half of the same decision (RepositoryWriter.putSealed), taken when the chunk is packed.
 */
export class ChunkSealer {
  readonly #keys: KeySet
  readonly #compressor: Compressor
  readonly #known: (mac: Buffer) => boolean

  constructor(keys: KeySet, compressor: Compressor, known: (mac: Buffer) => boolean) {
    this.#keys = keys
    this.#compressor = compressor
    this.#known = known
  }

  seal(chunk: Buffer): SealedChunk {
    const mac = this.#keys.blobMac.digest(chunk)
    if (this.#known(mac)) return {mac, length: chunk.length}
    return {mac, length: chunk.length, sealed: sealBlob(this.#keys, this.#compressor, BlobType.CHUNK, mac, chunk)}
  }
}
