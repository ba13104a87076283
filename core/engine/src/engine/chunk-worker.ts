/**
 * A chunking worker thread: reads local files with synchronous calls (several times cheaper
 * per small file than promise-based I/O, and only this thread waits), or takes the content of
 * streamed files from the main thread, cuts it with FastCDC, MACs each chunk, skips chunks the
 * repository cache already has, and compresses and seals the rest. Sealed chunks go to the main
 * thread, which packs them; a credit of unacknowledged bytes bounds what is in flight
 * (back-pressure from slow uploads reaches the disk reads and the streams).
 */
import Database from 'better-sqlite3'
import {closeSync, constants, fstatSync, openSync, read, readSync} from 'node:fs'
import {parentPort, workerData} from 'node:worker_threads'
import {Chunker, gearTable} from '../chunking/fastcdc.js'
import {KeySet, type Subkeys} from '../crypto/keys.js'
import {MAC_LENGTH} from '../crypto/mac.js'
import {BlobType} from '../format/blob-type.js'
import {Compressor, type CompressionConfig} from '../format/compression.js'
import type {ChunkingConfig} from '../format/config.js'
import {KNOWN_BLOB_SQL} from '../repository/cache.js'
import {CHUNK_ROW, type ChunkRows} from './chunk-batch.js'
import type {Batch, FileToChunk, FromWorker, ToWorker} from './chunk-pool.js'
import {ChunkSealer} from './chunk-sealer.js'
import {FirstBytes, sniffWithoutSignatures, type Sniffed} from './content-type.js'

export interface ChunkWorkerData {
  subkeys: Subkeys
  chunking: ChunkingConfig
  compression: CompressionConfig
  cachePath: string
  /** Unacknowledged sealed bytes after which the worker waits. */
  creditBytes: number
}

const data = workerData as ChunkWorkerData
const port = parentPort!
const keys = KeySet.fromSubkeys(data.subkeys)
const gear = gearTable(keys.chunkerSeed)
const chunker = new Chunker(data.chunking, gear)
const compressor = new Compressor(data.compression)
const db = new Database(data.cachePath, {readonly: true, fileMustExist: true})
db.pragma('busy_timeout = 30000')
const known = db.prepare(KNOWN_BLOB_SQL).pluck()
const sealer = new ChunkSealer(keys, compressor, (mac) => known.get(mac, BlobType.CHUNK) !== undefined)
const readBuffer = Buffer.allocUnsafe(4 * 1024 * 1024)
/**
 * The file may have changed since the scan saw a regular file: never follow a symlink put in
 * its place (it could point anywhere), and never block on a FIFO (an open for reading waits
 * for a writer); what is opened must still be a regular file.
 */
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK

let outstanding = 0
/** Local files and streams wait for credit independently: every waiter resumes. */
let resume: (() => void)[] = []
/** `size` is the size at scan time. */
type FileJob = FileToChunk
const queue: FileJob[] = []
let running = false

/**
 * Results wait in an outbox and leave in one message (a postMessage costs tens of
 * microseconds on each side, more than a small file's whole processing). Chunks do not travel
 * as message objects: their MACs and sealed bytes are copied into two buffers of the batch and
 * described by rows of numbers (ChunkRows), so that a batch of 256 small files crosses as a few
 * objects instead of hundreds of objects and transferred buffers, and the main thread handles
 * them without a promise each (ChunkPool). The other messages carry their place among the
 * chunks, so that a file's `done` is still handled after its chunks.
 */
let outbox: FromWorker[] = []
let places: number[] = []
let rows: number[] = []
let macs: Buffer[] = []
let sealedParts: Buffer[] = []
let sealedBytes = 0
let transfer: ArrayBuffer[] = []
const post = (message: FromWorker) => {
  outbox.push(message)
  places.push(rows.length / CHUNK_ROW)
  if (outbox.length + rows.length / CHUNK_ROW >= 256) flush()
}
/** A chunk for the batch; `sealed` absent: the repository has it. */
const postChunk = (job: number, mac: Buffer, length: number, sealed: Buffer | undefined) => {
  rows.push(job, length, sealed ? sealedBytes : 0, sealed ? sealed.length : -1)
  macs.push(mac)
  if (sealed) {
    sealedParts.push(sealed)
    sealedBytes += sealed.length
  }
  if (outbox.length + rows.length / CHUNK_ROW >= 256 || sealedBytes >= 4 * 1024 * 1024) flush()
}
let lastFlush = performance.now()
function flush(): void {
  lastFlush = performance.now()
  if (outbox.length === 0 && rows.length === 0) return
  let chunks: ChunkRows | undefined
  if (rows.length > 0) {
    const rowArray = new Float64Array(rows)
    const macBytes = Buffer.allocUnsafeSlow(macs.length * MAC_LENGTH)
    for (let i = 0; i < macs.length; i++) macBytes.set(macs[i], i * MAC_LENGTH)
    const sealed = Buffer.allocUnsafeSlow(sealedBytes)
    let at = 0
    for (const part of sealedParts) {
      sealed.set(part, at)
      at += part.length
    }
    chunks = {rows: rowArray, macs: macBytes.buffer as ArrayBuffer, sealed: sealed.buffer as ArrayBuffer}
    transfer.push(rowArray.buffer, chunks.macs, chunks.sealed)
  }
  port.postMessage({type: 'batch', messages: outbox, places, ...(chunks ? {chunks} : {})} satisfies Batch, transfer)
  outbox = []
  places = []
  rows = []
  macs = []
  sealedParts = []
  sealedBytes = 0
  transfer = []
}

port.on('message', (message: ToWorker) => {
  if (message.type === 'ack') {
    outstanding -= message.bytes
    if (outstanding <= data.creditBytes) for (const r of resume.splice(0)) r()
  } else if (message.type === 'stream' || message.type === 'abort') {
    // Streamed content is chunked in the order it came, one message after the other.
    streaming = streaming.then(() => (message.type === 'stream' ? streamData(message.job, Buffer.from(message.data), message.end) : void streams.delete(message.job)))
  } else if (message.type === 'files') {
    queue.push(...message.files)
    if (!running) void drain()
  } else if (message.type === 'close') {
    db.close()
    port.close()
  }
})

/**
 * Small files are read ahead, several at once through the thread pool: a cold read of a small
 * file is mostly waiting for the disk (100+ µs), and one synchronous read at a time per worker
 * left the disk idle half the time. Large files are read synchronously, in order, as they come.
 *
 * At most PREFETCH reads, holding at most PREFETCH_BYTES, per worker. 48 rather than 16: the
 * first backup of 300,000 small files from a cold cache took 30-31 s instead of 33-36 s (single
 * runs, alternated), with the workers still idle a third of the time waiting for the disk.
 */
const PREFETCH = 48
const PREFETCH_BYTES = 16 * 1024 * 1024
const SMALL_FILE = 1024 * 1024

async function drain(): Promise<void> {
  running = true
  const ahead: {job: FileJob; data?: Promise<Buffer | undefined>}[] = []
  let aheadBytes = 0
  while (queue.length > 0 || ahead.length > 0) {
    while (queue.length > 0 && ahead.length < PREFETCH && (ahead.length === 0 || aheadBytes + queue[0].size <= PREFETCH_BYTES)) {
      const job = queue.shift()!
      const data = job.size <= SMALL_FILE ? readSmall(job.path) : undefined
      data?.catch(() => {})
      if (data) aheadBytes += job.size
      ahead.push({job, data})
    }
    const {job, data} = ahead.shift()!
    if (data) aheadBytes -= job.size
    let content: Buffer | undefined
    try {
      content = await data
    } catch (error) {
      post({type: 'error', job: job.job, code: (error as NodeJS.ErrnoException).code, message: (error as Error).message})
      continue
    }
    // Grown past the small-file size since the scan, or large to begin with: read in order.
    if (content === undefined) await chunkFile(job)
    else await chunkBuffer(job, content)
    // Results must not wait for the queue to drain: the main thread refills the queue only as
    // files complete, so holding them back made both sides take turns idling.
    if (outbox.length + rows.length / CHUNK_ROW >= 32 || performance.now() - lastFlush > 2) flush()
  }
  flush()
  running = false
}

/**
 * The whole content of a small regular file, or undefined when it is larger than that now.
 * Only the read, which may wait for the disk (the file's data), goes through the thread pool.
 * The open finds the path's directory entries and inode where the walk's lstat just left them,
 * in the cache, so it waits for nothing, and neither do the fstat of the open descriptor and its
 * close: each of them through the pool was one more round trip per file (a submission, a wake-up
 * of a pool thread, a callback on this thread), each a few microseconds of this thread's time.
 * A failed open rejects, as a failed read does.
 */
function readSmall(path: string): Promise<Buffer | undefined> {
  let fd: number
  try {
    fd = openSync(path, OPEN_FLAGS)
  } catch (error) {
    return Promise.reject(error)
  }
  return new Promise((resolve, reject) => {
    const done = (failure: unknown, result?: Buffer) => {
      try {
        closeSync(fd)
      } catch {
        // Closing a descriptor opened for reading loses nothing, whatever it reports.
      }
      if (failure) reject(failure)
      else resolve(result)
    }
    let stats
    try {
      stats = fstatSync(fd)
    } catch (error) {
      return done(error)
    }
    if (!stats.isFile()) return done(Object.assign(new Error('it is no longer a regular file'), {code: 'ENOTREG'}))
    if (stats.size > SMALL_FILE) return done(null, undefined)
    const buffer = Buffer.allocUnsafe(stats.size)
    const readFrom = (offset: number) => {
      if (offset === buffer.length) return done(null, buffer)
      read(fd, buffer, offset, buffer.length - offset, offset, (error, n) => {
        if (error) return done(error)
        if (n === 0) return done(null, buffer.subarray(0, offset)) // shrunk since fstat
        readFrom(offset + n)
      })
    }
    readFrom(0)
  })
}

async function chunkBuffer({job, sniff}: FileJob, data: Buffer): Promise<void> {
  // Most small files are one chunk: sealed from the bytes read, not copied into the chunker's
  // buffer and out again.
  if (chunker.isOneChunk(data.length)) {
    if (data.length > 0) await emit(job, data)
  } else {
    chunker.reset()
    for (const chunk of chunker.push(data)) await emit(job, chunk)
    const last = chunker.end()
    if (last) await emit(job, last)
  }
  post({type: 'done', job, size: data.length, ...typed(sniff && sniffWithoutSignatures(sniff.name, sniff.guess, data))})
}

async function chunkFile({job, path, sniff}: FileJob): Promise<void> {
  let fd: number
  try {
    fd = openSync(path, OPEN_FLAGS)
  } catch (error) {
    post({type: 'error', job, code: (error as NodeJS.ErrnoException).code, message: (error as Error).message})
    return
  }
  try {
    if (!fstatSync(fd).isFile()) throw Object.assign(new Error('it is no longer a regular file'), {code: 'ENOTREG'})
    chunker.reset()
    const head = sniff ? new FirstBytes() : undefined
    let size = 0
    for (;;) {
      const n = readSync(fd, readBuffer, 0, readBuffer.length, null)
      if (n === 0) break
      if (size === 0) head?.add(readBuffer.subarray(0, n))
      size += n
      for (const chunk of chunker.push(readBuffer.subarray(0, n))) await emit(job, chunk)
    }
    const last = chunker.end()
    if (last) await emit(job, last)
    post({type: 'done', job, size, ...typed(sniff && head && sniffWithoutSignatures(sniff.name, sniff.guess, head.bytes()))})
  } catch (error) {
    chunker.reset()
    post({type: 'error', job, code: (error as NodeJS.ErrnoException).code, message: (error as Error).message})
  } finally {
    closeSync(fd)
  }
}

/**
 * The content type for a file's `done` message: the type the first bytes gave, or the sample
 * for the main thread to look up among `file-type`'s signatures (content-type.ts, Sniffed),
 * copied into a buffer of its own (a view would take the whole file's buffer, or Node's 8 KiB
 * pool, with it), which moves with the message instead of being copied again.
 */
function typed(sniffed: Sniffed | undefined): {contentType?: string; sample?: Uint8Array; otherwise?: string} {
  if (!sniffed) return {}
  if ('type' in sniffed) return sniffed.type ? {contentType: sniffed.type} : {}
  const sample = new Uint8Array(sniffed.sample)
  transfer.push(sample.buffer)
  return {sample, ...(sniffed.otherwise ? {otherwise: sniffed.otherwise} : {})}
}

interface StreamState {
  /** Streams interleave, so each has its own chunker (local files share one: they run in turn). */
  chunker: Chunker
  size: number
}
const streams = new Map<number, StreamState>()
let streaming = Promise.resolve()

async function streamData(job: number, bytes: Buffer, end: boolean): Promise<void> {
  let state = streams.get(job)
  if (!state) {
    state = {chunker: new Chunker(data.chunking, gear), size: 0}
    streams.set(job, state)
  }
  try {
    state.size += bytes.length
    for (const chunk of state.chunker.push(bytes)) await emit(job, chunk)
    post({type: 'consumed', job, bytes: bytes.length})
    if (end) {
      const last = state.chunker.end()
      if (last) await emit(job, last)
      streams.delete(job)
      post({type: 'done', job, size: state.size})
    }
  } catch (error) {
    streams.delete(job)
    post({type: 'error', job, code: (error as NodeJS.ErrnoException).code, message: (error as Error).message})
  }
  // The main thread reads the next bytes of this file only once these are consumed.
  flush()
}

async function emit(job: number, chunk: Buffer): Promise<void> {
  const {mac, length, sealed} = sealer.seal(chunk)
  postChunk(job, mac, length, sealed)
  if (!sealed) return
  outstanding += sealed.length
  if (outstanding > data.creditBytes) {
    flush()
    await new Promise<void>((r) => resume.push(r))
  }
}
