import {randomBytes} from 'node:crypto'
import {PassThrough} from 'node:stream'
import type {FileInfo, ImportRecord} from '@plakar/sdk'

/**
 * A file whose content is a stretch of one byte stream (standard input, an entry of a tar
 * archive): it can be read once, in order, and the stream cannot go on to the next entry before
 * this one is consumed. The importer yields the record, then waits on `consumed` before reading
 * further.
 *
 * Two things make that wait safe:
 * - the engine skips reading a file it believes unchanged since the parent snapshot; a stream
 *   has no stable identity to compare, so each record gets a fingerprint of its own (random),
 *   which matches no parent: the engine always opens it (chunks still deduplicate by content);
 * - whatever the consumer does with the stream it was given (reads it all, stops early,
 *   destroys it on an error of its own), the rest of the entry is drained, so the source always
 *   reaches the next entry.
 */
export interface SequentialRecord {
  record: ImportRecord
  /** Settles when the whole entry has been read from the source (rejects when the source failed). */
  consumed: Promise<void>
}

export function sequentialRecord(path: string, info: FileInfo, source: AsyncIterable<Buffer>): SequentialRecord {
  let settle!: {resolve: () => void; reject: (error: Error) => void}
  const consumed = new Promise<void>((resolve, reject) => (settle = {resolve, reject}))
  let opened = false
  const record: ImportRecord = {
    path,
    info: {...info, fingerprint: `stream-${randomBytes(12).toString('hex')}`},
    async open() {
      if (opened) throw new Error(`${path}: the content of a streamed entry can be read only once`)
      opened = true
      const out = new PassThrough()
      pump(source, out).then(settle.resolve, settle.reject)
      return out
    },
  }
  return {record, consumed}
}

/** Copies `source` into `out` with back-pressure; once `out` is gone, drains `source` to its end. */
async function pump(source: AsyncIterable<Buffer>, out: PassThrough): Promise<void> {
  let failed: Error | undefined
  try {
    for await (const chunk of source) {
      if (out.destroyed) continue
      if (!out.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            out.off('drain', done)
            out.off('close', done)
            resolve()
          }
          out.on('drain', done)
          out.on('close', done)
        })
      }
    }
  } catch (error) {
    failed = error as Error
  }
  if (failed) {
    out.destroy(failed)
    throw failed
  }
  out.end()
}
