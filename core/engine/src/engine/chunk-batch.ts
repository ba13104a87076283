/**
 * How a chunking worker's batch carries its chunks (chunk-worker.ts to ChunkPool): one row of
 * CHUNK_ROW numbers per chunk, in order: the file's job, the chunk's plaintext length, the
 * offset of its sealed bytes in `sealed` and their length (-1: the repository has the chunk,
 * nothing was sealed). The i-th chunk's MAC is at i × MAC_LENGTH in `macs`. A module of its
 * own: the worker must not load the pool's imports (file-type among them).
 */
export const CHUNK_ROW = 4

export interface ChunkRows {
  rows: Float64Array
  macs: ArrayBuffer
  sealed: ArrayBuffer
}
