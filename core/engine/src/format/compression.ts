import {createRequire} from 'node:module'

/**
 * zstd through zstd-napi's raw bindings: the library's convenience wrappers allocate a fresh
 * output buffer per call, which halves throughput on ~1 MiB chunks (see STACK.md); here one
 * context and one scratch buffer are reused and only the result is copied out.
 */
export type CompressionAlgorithm = 'zstd' | 'none'

export interface CompressionConfig {
  algorithm: CompressionAlgorithm
  level: number
}

export const Codec = {NONE: 0, ZSTD: 1} as const

/** Largest plaintext a zstd blob may declare: readers refuse more (a bound on allocations). */
export const MAX_ZSTD_CONTENT = 64 * 1024 * 1024

interface ZstdBinding {
  CCtx: new () => {compress(dst: Uint8Array, src: Uint8Array, level: number): number}
  DCtx: new () => {decompress(dst: Uint8Array, src: Uint8Array): number}
  compressBound(size: number): number
  getFrameContentSize(src: Uint8Array): number | null
}

let binding: ZstdBinding | undefined
function zstd(): ZstdBinding {
  binding ??= createRequire(import.meta.url)('zstd-napi/binding') as ZstdBinding
  return binding
}

export class Compressor {
  readonly #config: CompressionConfig
  #cctx?: InstanceType<ZstdBinding['CCtx']>
  #dctx?: InstanceType<ZstdBinding['DCtx']>
  #scratch = Buffer.alloc(0)
  #plainScratch = Buffer.alloc(0)

  constructor(config: CompressionConfig) {
    this.#config = config
  }

  /**
   * Returns the codec used and the bytes; data that does not shrink is kept as is, and so is
   * data larger than readers accept in a zstd frame (the chunk list of a file of millions of
   * chunks): compressed, it could be written but never read back.
   */
  compress(data: Uint8Array): {codec: number; bytes: Uint8Array} {
    if (this.#config.algorithm === 'none' || data.length < 64 || data.length > MAX_ZSTD_CONTENT) return {codec: Codec.NONE, bytes: data}
    const z = zstd()
    this.#cctx ??= new z.CCtx()
    const bound = z.compressBound(data.length)
    if (this.#scratch.length < bound) this.#scratch = Buffer.allocUnsafe(Math.max(bound, 1 << 20))
    const n = this.#cctx.compress(this.#scratch, data, this.#config.level)
    if (n >= data.length) return {codec: Codec.NONE, bytes: data}
    return {codec: Codec.ZSTD, bytes: this.#scratch.subarray(0, n)}
  }

  /**
   * `transient`: the caller only looks at the result before its next call (a check verifying
   * MACs), so it may be a view of a scratch buffer reused from call to call. A fresh buffer per
   * blob was the largest garbage of a check: two and a half times the bytes read.
   */
  decompress(codec: number, data: Uint8Array, transient = false): Buffer {
    if (codec === Codec.NONE) return Buffer.from(data.buffer, data.byteOffset, data.byteLength)
    if (codec !== Codec.ZSTD) throw new Error(`unknown compression codec ${codec}`)
    const z = zstd()
    this.#dctx ??= new z.DCtx()
    const size = z.getFrameContentSize(data)
    if (size === null || size < 0 || size > MAX_ZSTD_CONTENT) throw new Error('compressed blob has no valid size')
    let out: Buffer
    if (transient) {
      if (this.#plainScratch.length < size) this.#plainScratch = Buffer.allocUnsafe(Math.max(size, 1 << 20))
      out = this.#plainScratch.subarray(0, size)
    } else {
      // Its own memory, not a slice of the 8 KiB pool: it may be moved to another thread.
      out = Buffer.allocUnsafeSlow(size)
    }
    const n = this.#dctx.decompress(out, data)
    if (n !== size) throw new Error('compressed blob is truncated')
    return out
  }
}
