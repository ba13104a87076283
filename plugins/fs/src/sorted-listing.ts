import {closeSync, mkdtempSync, openSync, opendirSync, readSync, rmSync, writeSync} from 'node:fs'
import {join} from 'node:path'

/** Names held in memory at once; a larger directory is sorted through files (sorted runs). */
export const RUN_LENGTH = 65_536

export interface Listing {
  /** The names in UTF-8 byte order: the order of the snapshot tree. */
  names: Iterable<string>
  /** Why the listing stopped early, if it did (the names read so far are still given). */
  failure?: unknown
}

const byteOrder = (a: Buffer, b: Buffer) => Buffer.compare(a, b)

/**
 * Lists a directory in UTF-8 byte order, so that looking each entry up in the parent snapshot
 * walks its leaves once instead of hopping between them (a directory of 100k files listed in
 * hash order thrashed the node cache). Up to RUN_LENGTH names are sorted in memory; beyond,
 * sorted runs of that size go to temporary files under `spillDir` and are merged while read,
 * so memory stays bounded however large the directory. Throws if the directory cannot be opened.
 */
export function listSorted(dir: string, spillDir: string, runLength = RUN_LENGTH): Listing {
  const handle = opendirSync(dir, {bufferSize: 256})
  let run: Buffer[] = []
  const runs: string[] = []
  let spill: string | undefined
  let failure: unknown
  try {
    for (let dirent = handle.readSync(); dirent !== null; dirent = handle.readSync()) {
      run.push(Buffer.from(dirent.name))
      if (run.length >= runLength) {
        spill ??= mkdtempSync(join(spillDir, 'plakar-listing-'))
        runs.push(writeRun(spill, runs.length, run))
        run = []
      }
    }
  } catch (error) {
    failure = error
  } finally {
    handle.closeSync()
  }
  run.sort(byteOrder)
  if (runs.length === 0) return {names: run.map((b) => b.toString()), failure}
  runs.push(writeRun(spill!, runs.length, run))
  return {names: merge(runs, spill!), failure}
}

function writeRun(spill: string, n: number, names: Buffer[]): string {
  names.sort(byteOrder)
  const path = join(spill, `run-${n}`)
  const fd = openSync(path, 'w', 0o600)
  try {
    // NUL cannot occur in a file name: it separates them.
    const sep = Buffer.from([0])
    let batch: Buffer[] = []
    let size = 0
    const flush = () => {
      const data = Buffer.concat(batch, size)
      for (let off = 0; off < data.length; ) off += writeSync(fd, data, off)
      batch = []
      size = 0
    }
    for (const name of names) {
      batch.push(name, sep)
      size += name.length + 1
      if (size >= 1 << 20) flush()
    }
    flush()
  } finally {
    closeSync(fd)
  }
  return path
}

/** Reads a run file name by name, 64 KiB at a time. */
class RunReader {
  readonly #fd: number
  #buffer = Buffer.alloc(0)
  #done = false
  current: Buffer | undefined

  constructor(path: string) {
    this.#fd = openSync(path, 'r')
    this.advance()
  }

  close(): void {
    if (this.#done && this.current === undefined) return
    this.#done = true
    this.current = undefined
    closeSync(this.#fd)
  }

  advance(): void {
    for (;;) {
      const nul = this.#buffer.indexOf(0)
      if (nul >= 0) {
        this.current = Buffer.from(this.#buffer.subarray(0, nul))
        this.#buffer = this.#buffer.subarray(nul + 1)
        return
      }
      if (this.#done) {
        this.close()
        return
      }
      const chunk = Buffer.allocUnsafe(65_536)
      const n = readSync(this.#fd, chunk, 0, chunk.length, null)
      if (n === 0) this.#done = true
      else this.#buffer = Buffer.concat([this.#buffer, chunk.subarray(0, n)])
    }
  }
}

function* merge(paths: string[], spill: string): Generator<string> {
  const readers: RunReader[] = []
  try {
    for (const p of paths) readers.push(new RunReader(p))
    for (;;) {
      let best: RunReader | undefined
      for (const r of readers) if (r.current && (!best || Buffer.compare(r.current, best.current!) < 0)) best = r
      if (!best) return
      yield best.current!.toString()
      best.advance()
    }
  } finally {
    for (const r of readers) r.close()
    rmSync(spill, {recursive: true, force: true})
  }
}
