/**
 * The fs exporter's writing thread: batches of small files (the engine's `storeFiles`) are
 * created, written and finished here with synchronous calls, while the restore's main thread
 * reads and decodes the next ones. Creating a file through `/proc/self/fd/N/name` and writing it
 * was most of what held the main thread in a restore of many small files.
 *
 * The thread has its own directory descriptors (DirectoryHandles, opened from the exporter's root
 * descriptor and then by name, component by component, never following a symlink): a descriptor
 * number never crosses threads. Batches are written one at a time, in the order they come.
 */
import {parentPort, threadId, workerData} from 'node:worker_threads'
import type {FileInfo} from '@plakar/sdk'
import {DirectoryHandles} from './directory-handles.js'
import {FileWriter, placeBelowRoot, TARGET_FAILURES} from './file-writer.js'
import {FIELDS, type FileFailure, type FromWriteWorker, type ToWriteWorker, type WriteAnswer, type WriteBatch} from './write-protocol.js'

const {root, open, asRoot} = workerData as {root: string; open: string; asRoot: boolean}
const port = parentPort!

function infoAt(numbers: Float64Array, i: number): FileInfo {
  const at = (k: number) => {
    const n = numbers[i * FIELDS + k]
    return Number.isNaN(n) ? undefined : n
  }
  return {type: 'file', size: 0, mode: at(0), uid: at(1), gid: at(2), mtime: at(3), atime: at(4)}
}

function failure(error: unknown): FileFailure {
  const e = error as {message?: unknown; code?: unknown; plakarExitCode?: unknown}
  return {
    message: typeof e?.message === 'string' ? e.message : String(error),
    code: typeof e?.code === 'string' ? e.code : undefined,
    exitCode: typeof e?.plakarExitCode === 'number' ? e.plakarExitCode : undefined,
  }
}

function write(writer: FileWriter, batch: WriteBatch): WriteAnswer {
  const outcomes: (FileFailure | null)[] = []
  const bytes = new Uint8Array(batch.data)
  for (let i = 0; i < batch.paths.length; i++) {
    if (Atomics.load(batch.stop, 0) !== 0) return {id: batch.id, outcomes, end: 'aborted', data: batch.data}
    try {
      const content = bytes.subarray(i === 0 ? 0 : batch.ends[i - 1], batch.ends[i])
      writer.storeWhole(placeBelowRoot(batch.paths[i]), [content], infoAt(batch.numbers, i))
      outcomes.push(null)
    } catch (error) {
      const failed = failure(error)
      outcomes.push(failed)
      if (failed.code && TARGET_FAILURES[failed.code]) return {id: batch.id, outcomes, end: 'target', data: batch.data}
    }
  }
  return {id: batch.id, outcomes, data: batch.data}
}

let handles: DirectoryHandles
try {
  handles = new DirectoryHandles(root, {open, limit: 64})
} catch (error) {
  port.postMessage({type: 'failed', message: failure(error).message} satisfies FromWriteWorker)
  process.exit(1)
}
const writer = new FileWriter(handles, root, asRoot, `-w${threadId}`)

port.on('message', (message: ToWriteWorker) => {
  if (message.type === 'close') {
    handles.close()
    port.close()
    return
  }
  const answer = write(writer, message.batch)
  port.postMessage({type: 'answer', answer} satisfies FromWriteWorker, [answer.data])
})
