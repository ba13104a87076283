/** The messages between the fs exporter (write-thread.ts) and its writing thread (write-worker.ts). */

/** Numbers of a file's info in a batch's `numbers` (NaN where the info has none). */
export const FIELDS = 5
export type ToWriteWorker = {type: 'batch'; batch: WriteBatch} | {type: 'close'}

export interface WriteBatch {
  id: number
  paths: string[]
  /** Per file: mode, uid, gid, mtime, atime. */
  numbers: Float64Array
  /** Where each file's content ends in `data`: file i is data[ends[i-1] (0 for i = 0), ends[i]). */
  ends: Uint32Array
  /** Moved to the thread, and moved back with the answer for the next batch. */
  data: ArrayBuffer
  /** Shared; set to 1 when the call is aborted: the thread stops before its next file. */
  stop: Int32Array
}

/** A file's error, as it crosses back. */
export interface FileFailure {
  message: string
  code?: string
  /** `plakarExitCode` of a PlakarError. */
  exitCode?: number
}

export interface WriteAnswer {
  id: number
  /** One per file written or failed, in order; fewer than the batch's files when it ended early. */
  outcomes: (FileFailure | null)[]
  /** Why the batch ended before its last file: the target failed as a whole (the last outcome), or the call was aborted. */
  end?: 'target' | 'aborted'
  data: ArrayBuffer
}

export type FromWriteWorker = {type: 'answer'; answer: WriteAnswer} | {type: 'failed'; message: string}
