/**
 * The one emulated part of the glacier tests: S3 Glacier archive semantics, which no server
 * available here implements (radosgw stores GLACIER and DEEP_ARCHIVE objects as labels, serves
 * them directly and answers RestoreObject with 501). This HTTP proxy sits in front of radosgw and
 * forwards every request untouched — signatures, bodies, errors, Object Lock: all real radosgw —
 * except that, as AWS documents for archived objects (S3 User Guide, "Restoring an archived
 * object"; API reference, GetObject, HeadObject and RestoreObject):
 *
 * - GET of an object whose `x-amz-storage-class` is GLACIER or DEEP_ARCHIVE answers
 *   `403 InvalidObjectState` (the body radosgw sent is discarded) unless a restore completed;
 * - POST `?restore` (RestoreObject) is first forwarded; radosgw answers 501 (before checking the
 *   signature: the shim does not authenticate restore requests, the one check it skips); then
 *   the shim answers as AWS does: `404 NoSuchKey` for a
 *   missing object, `202 Accepted` for a first request, `409 RestoreAlreadyInProgress` while one runs, `200 OK`
 *   once the copy is available, `403 InvalidObjectState` for a class that is not archived;
 * - HEAD of an archived object carries `x-amz-restore`: `ongoing-request="true"` while the restore
 *   runs, `ongoing-request="false", expiry-date="…"` once done.
 *
 * A restore completes after `delayMs` (per tier), or when the test calls `complete()`; it emits
 * events ("requested", "restored") so tests wait on them, never on time. Counters tell which
 * objects were read and restored (the figures of issue 14 are counted here).
 */
import {EventEmitter} from 'node:events'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import {HeadObjectCommand, S3Client} from '@aws-sdk/client-s3'

const ARCHIVE = new Set(['GLACIER', 'DEEP_ARCHIVE'])
const DAY = 86_400_000

export interface RestoreRecord {
  key: string
  tier: string
  days: number
  requestedAt: number
  /** When the thawed copy is readable; undefined while waiting for complete(). */
  readyAt?: number
  requests: number
}

export interface ShimStats {
  /** GET requests on archived objects, by key (refused or served). */
  coldGets: Map<string, number>
  /** GET requests refused with InvalidObjectState. */
  refusedGets: number
  /** RestoreObject requests that started a restore (202), by key. */
  restoresStarted: Map<string, number>
  /** Every RestoreObject request received. */
  restoreRequests: number
  /** Requests forwarded, by method. */
  forwarded: Record<string, number>
}

export interface GlacierShimOptions {
  /** host:port of radosgw. */
  upstream: string
  /** For the shim's own HEAD requests (the class of an object asked to be restored). */
  credentials: {accessKeyId: string; secretAccessKey: string}
  /** Milliseconds a restore takes, per tier; `manual`: only complete() finishes restores. */
  delayMs?: Partial<Record<string, number>> | 'manual'
}

export class GlacierShim extends EventEmitter {
  readonly restores = new Map<string, RestoreRecord>()
  readonly stats: ShimStats = {coldGets: new Map(), refusedGets: 0, restoresStarted: new Map(), restoreRequests: 0, forwarded: {}}
  #server?: http.Server
  readonly #agent = new http.Agent({keepAlive: true, maxSockets: 64})
  readonly #upstreamHost: string
  readonly #upstreamPort: number
  delayMs: Partial<Record<string, number>> | 'manual'
  readonly #timers = new Set<NodeJS.Timeout>()
  readonly #client: S3Client

  constructor(options: GlacierShimOptions) {
    super()
    const [host, port] = options.upstream.split(':')
    this.#upstreamHost = host
    this.#upstreamPort = Number(port)
    this.delayMs = options.delayMs ?? {Expedited: 20, Standard: 50, Bulk: 100}
    this.#client = new S3Client({
      endpoint: `http://${options.upstream}`,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: options.credentials,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    })
  }

  async start(): Promise<string> {
    this.#server = http.createServer((req, res) => void this.#handle(req, res))
    await new Promise<void>((resolve, reject) => this.#server!.once('error', reject).listen(0, '127.0.0.1', () => resolve()))
    return `127.0.0.1:${(this.#server.address() as AddressInfo).port}`
  }

  async close(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t)
    this.#agent.destroy()
    this.#client.destroy()
    this.#server?.closeAllConnections()
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()))
  }

  /** Finishes every restore still running (or only those of `keys`). */
  complete(keys?: string[]): void {
    for (const r of this.restores.values()) if (r.readyAt === undefined && (!keys || keys.includes(r.key))) this.#ready(r)
  }

  /** Forgets every restore: the thawed copies expire. */
  expireAll(): void {
    this.restores.clear()
  }

  resetStats(): void {
    this.stats.coldGets.clear()
    this.stats.refusedGets = 0
    this.stats.restoresStarted.clear()
    this.stats.restoreRequests = 0
    this.stats.forwarded = {}
  }

  #ready(r: RestoreRecord): void {
    r.readyAt = Date.now()
    this.emit('restored', r.key)
  }

  #state(key: string): 'archived' | 'in-progress' | 'available' {
    const r = this.restores.get(key)
    if (!r) return 'archived'
    if (r.readyAt === undefined || r.readyAt > Date.now()) return 'in-progress'
    if (r.readyAt + r.days * DAY < Date.now()) {
      this.restores.delete(key)
      return 'archived'
    }
    return 'available'
  }

  /** The object key of a path-style URL (/bucket/key), or undefined for bucket-level requests. */
  #key(url: URL): string | undefined {
    const parts = url.pathname.split('/')
    if (parts.length < 3 || parts[2] === '') return undefined
    return decodeURIComponent(parts.slice(1).join('/'))
  }

  #forward(req: http.IncomingMessage, body?: Buffer): Promise<http.IncomingMessage> {
    this.stats.forwarded[req.method!] = (this.stats.forwarded[req.method!] ?? 0) + 1
    const headers = {...req.headers}
    // Not signed by SigV4 clients; forwarding it would make radosgw wait for our "continue".
    delete headers.expect
    return new Promise((resolve, reject) => {
      const up = http.request({host: this.#upstreamHost, port: this.#upstreamPort, method: req.method, path: req.url, headers, agent: this.#agent}, resolve)
      up.on('error', reject)
      if (body) up.end(body)
      else req.pipe(up)
    })
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url!, 'http://shim')
      const key = this.#key(url)
      if (req.method === 'POST' && key && url.searchParams.has('restore')) return await this.#restore(req, res, key)
      const up = await this.#forward(req)
      const cls = String(up.headers['x-amz-storage-class'] ?? '')
      const archived = key !== undefined && ARCHIVE.has(cls) && (up.statusCode ?? 500) < 300
      if (archived && req.method === 'GET' && !url.searchParams.has('retention') && !url.searchParams.has('legal-hold')) {
        this.stats.coldGets.set(key, (this.stats.coldGets.get(key) ?? 0) + 1)
        if (this.#state(key) !== 'available') {
          up.resume()
          this.stats.refusedGets++
          return this.#error(res, 403, 'InvalidObjectState', "The operation is not valid for the object's storage class", {StorageClass: cls})
        }
      }
      const headers = {...up.headers}
      if (archived && req.method === 'HEAD') {
        const state = this.#state(key)
        const r = this.restores.get(key)
        if (state === 'in-progress') headers['x-amz-restore'] = 'ongoing-request="true"'
        if (state === 'available') headers['x-amz-restore'] = `ongoing-request="false", expiry-date="${new Date(r!.readyAt! + r!.days * DAY).toUTCString()}"`
      }
      res.writeHead(up.statusCode ?? 500, up.statusMessage, headers)
      up.pipe(res)
    } catch (error) {
      if (!res.headersSent) this.#error(res, 502, 'ShimUpstreamError', String((error as Error).message))
      else res.destroy()
    }
  }

  async #restore(req: http.IncomingMessage, res: http.ServerResponse, key: string): Promise<void> {
    this.stats.restoreRequests++
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const body = Buffer.concat(chunks)
    // radosgw answers 501 for RestoreObject; anything else (a missing bucket…) is passed on.
    const up = await this.#forward(req, body)
    const upBody = await collect(up)
    if (up.statusCode !== 501) {
      res.writeHead(up.statusCode ?? 500, up.headers)
      res.end(upBody)
      return
    }
    const cls = await this.#storageClass(key)
    if (cls === undefined) return this.#error(res, 404, 'NoSuchKey', 'The specified key does not exist.')
    if (!ARCHIVE.has(cls)) {
      return this.#error(res, 403, 'InvalidObjectState', 'Restore is not allowed for the object\'s current storage class')
    }
    const text = body.toString('utf8')
    const days = Number(/<Days>(\d+)<\/Days>/.exec(text)?.[1] ?? 1)
    const tier = /<Tier>(\w+)<\/Tier>/.exec(text)?.[1] ?? 'Standard'
    if (cls === 'DEEP_ARCHIVE' && tier === 'Expedited') {
      return this.#error(res, 400, 'InvalidArgument', 'Expedited retrieval is not supported for the DEEP_ARCHIVE storage class')
    }
    const state = this.#state(key)
    if (state === 'in-progress') return this.#error(res, 409, 'RestoreAlreadyInProgress', 'Object restore is already in progress')
    if (state === 'available') {
      this.restores.get(key)!.days = days
      res.writeHead(200).end()
      return
    }
    const record: RestoreRecord = {key, tier, days, requestedAt: Date.now(), requests: 1}
    this.restores.set(key, record)
    this.stats.restoresStarted.set(key, (this.stats.restoresStarted.get(key) ?? 0) + 1)
    res.writeHead(202).end()
    this.emit('requested', key)
    if (this.delayMs !== 'manual') {
      const delay = this.delayMs[tier] ?? 50
      const t = setTimeout(() => {
        this.#timers.delete(t)
        if (this.restores.get(key) === record) this.#ready(record)
      }, delay)
      this.#timers.add(t)
    }
  }

  /** The storage class of an object, asked of radosgw directly with the shim's own client. */
  async #storageClass(key: string): Promise<string | undefined> {
    const [Bucket, ...rest] = key.split('/')
    try {
      const head = await this.#client.send(new HeadObjectCommand({Bucket, Key: rest.join('/')}))
      return head.StorageClass ?? 'STANDARD'
    } catch (error) {
      if ((error as {$metadata?: {httpStatusCode?: number}}).$metadata?.httpStatusCode === 404) return undefined
      throw error
    }
  }

  #error(res: http.ServerResponse, status: number, code: string, message: string, extra: Record<string, string> = {}): void {
    const more = Object.entries(extra)
      .map(([k, v]) => `<${k}>${v}</${k}>`)
      .join('')
    res.writeHead(status, {'content-type': 'application/xml'})
    res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message>${more}<RequestId>shim</RequestId></Error>`)
  }
}

async function collect(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const p of stream) parts.push(p as Buffer)
  return Buffer.concat(parts)
}
