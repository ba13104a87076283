import {createHash, randomBytes} from 'node:crypto'
import {createReadStream, createWriteStream, type WriteStream} from 'node:fs'
import {mkdir, rename, unlink} from 'node:fs/promises'
import {join} from 'node:path'
import {createInterface} from 'node:readline'
import {compareKeys} from './paths.js'

/** What a HEAD request told about one version of an object. */
export interface CachedObject {
  /** ETag, quotes included, as S3 sends it. */
  etag: string
  size: number
  mtime: number
  contentType?: string
  metadata: Record<string, string>
}

interface Line {
  k: string
  e: string
  s: number
  m: number
  t?: string
  md: Record<string, string>
}

/**
 * Content types and user metadata are not in S3 listings: each object costs a HEAD request. This
 * cache remembers them from the last complete scan of the same endpoint, bucket and prefix, so
 * that an object whose ETag, size and modification time are unchanged (S3 metadata cannot change
 * without a new LastModified) costs nothing: an unchanged bucket is scanned with LIST requests
 * only. It is a JSON-lines file in listing order, read and rewritten in step with the listing,
 * so memory stays bounded whatever the object count; a new file replaces the old one only when a
 * scan completes. Any problem with it only means HEAD requests.
 */
export class ScanCache {
  readonly #path: string
  readonly #temp: string
  readonly #lines: AsyncIterator<string> | undefined
  #next: Line | undefined
  #exhausted = false
  #out: WriteStream | undefined
  #failed = false

  private constructor(path: string, lines: AsyncIterator<string> | undefined, out: WriteStream | undefined) {
    this.#path = path
    this.#temp = `${path}.${randomBytes(6).toString('hex')}.tmp`
    this.#lines = lines
    this.#exhausted = !lines
    this.#out = out
  }

  static async open(cacheDir: string, identity: string): Promise<ScanCache | undefined> {
    try {
      const dir = join(cacheDir, 's3-scan')
      await mkdir(dir, {recursive: true, mode: 0o700})
      const path = join(dir, `${createHash('sha256').update(identity).digest('hex').slice(0, 32)}.jsonl`)
      const input = createReadStream(path, {encoding: 'utf8'})
      const opened = await new Promise<boolean>((resolve) => {
        input.once('open', () => resolve(true))
        input.once('error', () => resolve(false))
      })
      const lines = opened ? createInterface({input, crlfDelay: Infinity})[Symbol.asyncIterator]() : undefined
      const cache = new ScanCache(path, lines, undefined)
      cache.#out = createWriteStream(cache.#temp, {mode: 0o600})
      cache.#out.on('error', () => (cache.#failed = true))
      return cache
    } catch {
      return undefined
    }
  }

  /** The cached description of `key` if it is the same version (ETag, size, mtime). Keys come in listing order. */
  async lookup(key: string, etag: string | undefined, size: number, mtime: number): Promise<CachedObject | undefined> {
    if (!etag) return undefined
    while (!this.#exhausted) {
      if (!this.#next) {
        const {value, done} = await this.#lines!.next()
        if (done) {
          this.#exhausted = true
          break
        }
        try {
          this.#next = JSON.parse(value) as Line
        } catch {
          this.#exhausted = true // a damaged file: no more hits
          break
        }
      }
      const order = compareKeys(this.#next.k, key)
      if (order > 0) return undefined
      const line = this.#next
      this.#next = undefined
      if (order === 0) {
        if (line.e !== etag || line.s !== size || line.m !== mtime) return undefined
        return {etag: line.e, size: line.s, mtime: line.m, contentType: line.t, metadata: line.md ?? {}}
      }
    }
    return undefined
  }

  /** Remembers an object for the next scan (in listing order). */
  record(key: string, object: CachedObject): void {
    if (!this.#out || this.#failed) return
    const line: Line = {k: key, e: object.etag, s: object.size, m: object.mtime, md: object.metadata}
    if (object.contentType !== undefined) line.t = object.contentType
    this.#out.write(`${JSON.stringify(line)}\n`)
  }

  /** The scan completed: the new file replaces the old one. */
  async commit(): Promise<void> {
    await this.#closeInput()
    const out = this.#out
    this.#out = undefined
    if (!out) return
    await new Promise<void>((resolve) => out.end(resolve))
    if (this.#failed) await unlink(this.#temp).catch(() => {})
    else await rename(this.#temp, this.#path).catch(() => unlink(this.#temp).catch(() => {}))
  }

  /** The scan stopped early or failed: the old file stays. */
  async abort(): Promise<void> {
    await this.#closeInput()
    const out = this.#out
    this.#out = undefined
    if (!out) return
    await new Promise<void>((resolve) => out.end(resolve))
    await unlink(this.#temp).catch(() => {})
  }

  async #closeInput(): Promise<void> {
    this.#exhausted = true
    await this.#lines?.return?.().catch(() => {})
  }
}
