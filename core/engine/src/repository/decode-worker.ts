/**
 * A decoding worker thread: opens (authenticates, decrypts), decompresses and re-MACs blobs cut
 * from packfile ranges the main thread fetched, so that restore and check use every core.
 */
import {parentPort, workerData} from 'node:worker_threads'
import {KeySet, type Subkeys} from '../crypto/keys.js'
import {MAC_LENGTH} from '../crypto/mac.js'
import {BLOB_FRAMING, openBlob} from '../format/blob.js'
import {ownedCopy} from '../format/owned-copy.js'
import {Compressor, type CompressionConfig} from '../format/compression.js'
import type {DecodeRequest, FromDecodeWorker} from './decode-pool.js'

const data = workerData as {subkeys: Subkeys; compression: CompressionConfig; answered: SharedArrayBuffer}
/** Requests answered, read by the pool without waiting for the replies to be delivered. */
const answered = new Int32Array(data.answered)
const keys = KeySet.fromSubkeys(data.subkeys)
const compressor = new Compressor(data.compression)
const port = parentPort!

port.on('message', (request: DecodeRequest) => {
  // A view of the bytes moved here, not Buffer.from(data): that copies them (a whole range).
  const bytes = Buffer.from(request.data.buffer, request.data.byteOffset, request.data.byteLength)
  const reply: FromDecodeWorker & {type: 'reply'} = {type: 'reply', id: request.id, plaintexts: [], errors: []}
  const transfer: ArrayBuffer[] = []
  for (let i = 0; i < request.blobs.length; i++) {
    const blob = request.blobs[i]
    try {
      if (blob.offset + blob.length > bytes.length) throw new Error('the range is shorter than the blob')
      const mac = request.macs.subarray(i * MAC_LENGTH, (i + 1) * MAC_LENGTH)
      const plain = openBlob(keys, compressor, blob.type, mac, bytes.subarray(blob.offset, blob.offset + blob.length), request.verifyOnly)
      if (request.verifyOnly) {
        reply.plaintexts.push(null)
        continue
      }
      // A buffer of its own per blob can be moved to the main thread instead of copied. Never
      // Buffer.from: a small one is a slice of Node's 8 KiB pool, which is copied whole. An
      // uncompressed blob's plaintext is a view of the buffer its decryption made for it alone,
      // after the version and codec bytes: moved whole, as a view, not copied (unless it views
      // the request's bytes, as in a plaintext repository).
      const own = plain.buffer !== bytes.buffer && !(plain.buffer instanceof SharedArrayBuffer) && plain.buffer.byteLength - plain.byteLength <= BLOB_FRAMING
      const owned = own && !transfer.includes(plain.buffer as ArrayBuffer) ? plain : ownedCopy(plain)
      reply.plaintexts.push(owned)
      transfer.push(owned.buffer as ArrayBuffer)
    } catch (error) {
      reply.plaintexts.push(null)
      reply.errors.push({index: reply.plaintexts.length - 1, message: (error as Error).message})
    }
  }
  // The request's bytes go back too: here they would wait for a full collection (promoted
  // while the blobs were opened, counted only as external memory), holding one packfile each;
  // there they are a new young object, freed by the next scavenge, or a range buffer read into
  // again (RangeBuffers). Shared bytes (a check's packfile, verified by both threads) stay
  // where they are.
  const given = request.data.buffer
  if (!(given instanceof SharedArrayBuffer) && !transfer.includes(given as ArrayBuffer)) {
    reply.returned = request.data
    transfer.push(given as ArrayBuffer)
  }
  Atomics.add(answered, 0, 1)
  port.postMessage(reply, transfer)
})
// Everything above loaded and the keys are usable: requests may come.
port.postMessage({type: 'ready'} satisfies FromDecodeWorker)
