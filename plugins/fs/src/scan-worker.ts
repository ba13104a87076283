/**
 * The fs importer's walk on its own thread: listing directories and lstat-ing every entry is
 * mostly waiting for the disk, which no longer holds up the engine's main thread. Items go to
 * the importer in batches, a few batches ahead at most; the importer asks for directories it
 * excludes to be pruned (a directory already walked before the request arrives is filtered out
 * by the importer).
 */
import {parentPort, workerData} from 'node:worker_threads'
import {walkTree, type WalkItem} from './walk.js'

/** `ack`: the importer read `batches` more batches (it tells fewer at once than AHEAD). */
export type ToScanWorker = {type: 'prune'; path: string} | {type: 'ack'; batches: number}
export type FromScanWorker = {type: 'items'; items: WalkItem[]} | {type: 'done'} | {type: 'failed'; message: string}

const {root, spillDir} = workerData as {root: string; spillDir: string}
const port = parentPort!
const BATCH = 512
/** Batches posted ahead of the importer's acknowledgements (more than its ACK_EVERY). */
const AHEAD = 8

const pruned = new Set<string>()
let credit = AHEAD
let resume: (() => void) | undefined

port.on('message', (message: ToScanWorker) => {
  if (message.type === 'prune') pruned.add(message.path)
  else {
    credit += message.batches
    resume?.()
    resume = undefined
  }
})

async function run(): Promise<void> {
  let batch: WalkItem[] = []
  for (const item of walkTree(root, spillDir, (path) => pruned.has(path))) {
    batch.push(item)
    if (batch.length < BATCH) continue
    port.postMessage({type: 'items', items: batch} satisfies FromScanWorker)
    batch = []
    credit--
    // Let prune requests and acknowledgements in; wait while the importer is far behind.
    await new Promise((r) => setImmediate(r))
    while (credit <= 0) await new Promise<void>((r) => (resume = r))
  }
  if (batch.length > 0) port.postMessage({type: 'items', items: batch} satisfies FromScanWorker)
  port.postMessage({type: 'done'} satisfies FromScanWorker)
}

run().catch((error: Error) => port.postMessage({type: 'failed', message: error.message} satisfies FromScanWorker))
