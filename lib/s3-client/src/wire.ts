import {createHash, createHmac, type Hash, type Hmac} from 'node:crypto'
import * as http from 'node:http'
import type {IncomingHttpHeaders, IncomingMessage} from 'node:http'
import * as https from 'node:https'
import type {SignatureV4} from '@smithy/signature-v4'
import type {ConnectionSettings} from './connection.js'

/**
 * The requests a repository makes all the time (GET, ranged GET, HEAD, PUT of one body,
 * DELETE, ListObjectsV2), signed with AWS Signature V4 and sent over node:http on keep-alive
 * sockets, without the AWS SDK. Measured on radosgw (docs/performance.md, "S3: the hot requests
 * without the SDK"): importing the SDK costs 0.2–0.3 s of CPU per command, and each request
 * 4–5 ms of CPU through its middleware stack, against under 1 ms here. Everything else
 * (multipart uploads, Object Lock settings, versions, bucket creation, credentials from profiles
 * or instance roles) stays on the SDK, loaded only when one of those is needed.
 *
 * Signing is AWS's own `@smithy/signature-v4` and error bodies are read with the SDK's own XML
 * parser (`@aws-sdk/xml-builder`): both small, both the code the SDK itself runs. Errors are
 * shaped as the SDK's (`name` is S3's error code, `$metadata.httpStatusCode`), so that retries
 * and messages (errors.ts) treat both paths alike.
 */

export type Credentials = {accessKeyId: string; secretAccessKey: string; sessionToken?: string}

export interface WireRequest {
  method: 'GET' | 'HEAD' | 'PUT' | 'DELETE'
  /** The object's key; absent for a request on the bucket itself (a listing). */
  key?: string
  query?: Record<string, string | undefined>
  headers?: Record<string, string | undefined>
  /** A PUT's body: its SHA-256 is signed, so a body damaged on the way is refused by the server. */
  body?: Buffer
  signal?: AbortSignal
}

export interface WireResponse {
  status: number
  headers: IncomingHttpHeaders
  /** The response body (already drained for HEAD and bodiless answers). */
  body: IncomingMessage
}

/** An S3 error answer, shaped as the SDK's service exceptions. */
export class S3ResponseError extends Error {
  readonly $metadata: {httpStatusCode: number; requestId?: string}
  readonly $fault: 'client' | 'server'

  constructor(status: number, code: string, message: string, requestId?: string) {
    super(message || code)
    this.name = code
    this.$metadata = {httpStatusCode: status, requestId}
    this.$fault = status >= 500 ? 'server' : 'client'
  }
}

/** The code an answer without a body (HEAD) gets, as the SDK names them. */
const BODYLESS_CODES: Record<number, string> = {
  301: 'PermanentRedirect',
  304: 'NotModified',
  400: 'BadRequest',
  403: 'Forbidden',
  404: 'NotFound',
  409: 'Conflict',
  412: 'PreconditionFailed',
  416: 'InvalidRange',
  500: 'InternalError',
  503: 'ServiceUnavailable',
}

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'

/** RFC 3986 escaping of one path segment or query value, as SigV4 wants it. */
function escape(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

/** node:crypto behind the hash interface the signer takes (an HMAC when given a key). */
class NodeSha256 {
  readonly #secret: Uint8Array | string | undefined
  #hash: Hash | Hmac

  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.#secret =
      secret === undefined || typeof secret === 'string'
        ? secret
        : secret instanceof ArrayBuffer
          ? new Uint8Array(secret)
          : new Uint8Array(secret.buffer, secret.byteOffset, secret.byteLength)
    this.#hash = this.#fresh()
  }

  #fresh(): Hash | Hmac {
    return this.#secret === undefined ? createHash('sha256') : createHmac('sha256', this.#secret)
  }

  update(data: Uint8Array): void {
    this.#hash.update(data)
  }

  digest(): Promise<Uint8Array> {
    return Promise.resolve(this.#hash.digest())
  }

  reset(): void {
    this.#hash = this.#fresh()
  }
}

export interface WireOptions {
  settings: ConnectionSettings
  bucket: string
  /** Sockets kept per agent: one per request in flight plus room for bodies being consumed. */
  maxSockets: number
  /** Credentials when neither the settings nor the environment give them (the SDK's chain). */
  fallbackCredentials: () => Promise<Credentials>
}

export class S3Wire {
  readonly httpAgent: http.Agent
  readonly httpsAgent: https.Agent
  readonly #settings: ConnectionSettings
  readonly #bucket: string
  readonly #tls: boolean
  readonly #hostname: string
  readonly #port: number | undefined
  readonly #credentials: () => Promise<Credentials>
  #signer: Promise<SignatureV4> | undefined

  constructor(options: WireOptions) {
    const agent = {keepAlive: true, maxSockets: options.maxSockets, scheduling: 'lifo' as const}
    this.httpAgent = new http.Agent(agent)
    this.httpsAgent = new https.Agent(agent)
    this.#settings = options.settings
    this.#bucket = options.bucket
    const url = new URL(options.settings.endpoint)
    this.#tls = url.protocol === 'https:'
    // An IPv6 literal comes bracketed in URLs and Host headers, bare to node:http.
    this.#hostname = url.hostname
    this.#port = url.port ? Number(url.port) : undefined
    const fixed = options.settings.credentials ?? environmentCredentials(options.settings)
    this.#credentials = fixed ? () => Promise.resolve(fixed) : options.fallbackCredentials
  }

  async #signerFor(): Promise<SignatureV4> {
    this.#signer ??= import('@smithy/signature-v4').then(
      ({SignatureV4}) =>
        new SignatureV4({
          service: 's3',
          region: this.#settings.region,
          credentials: () => this.#credentials(),
          sha256: NodeSha256,
          // S3 signs the path as sent (escaped once), not escaped a second time.
          uriEscapePath: false,
          applyChecksum: false,
        }),
    )
    return this.#signer
  }

  /**
   * Sends one request; resolves with the answer's headers once they arrive (the body then
   * streams), rejects with an S3ResponseError for an error answer (its XML read whole) or with
   * the transport's error (reset, refused, timed out).
   */
  async send(request: WireRequest): Promise<WireResponse> {
    const signer = await this.#signerFor()
    request.signal?.throwIfAborted()
    const pathStyle = this.#settings.pathStyle
    const hostname = pathStyle ? this.#hostname : `${this.#bucket}.${this.#hostname}`
    const keyPath = request.key === undefined ? '' : `/${request.key.split('/').map(escape).join('/')}`
    const path = pathStyle ? `/${escape(this.#bucket)}${keyPath}` : keyPath || '/'
    const query: Record<string, string> = {}
    for (const [name, value] of Object.entries(request.query ?? {})) if (value !== undefined) query[name] = value
    const hostHeader = `${hostname.includes(':') ? `[${hostname}]` : hostname}${this.#port ? `:${this.#port}` : ''}`
    const headers: Record<string, string> = {host: hostHeader}
    for (const [name, value] of Object.entries(request.headers ?? {})) if (value !== undefined) headers[name.toLowerCase()] = value
    headers['x-amz-content-sha256'] = request.body ? createHash('sha256').update(request.body).digest('hex') : EMPTY_SHA256
    if (request.body || request.method === 'PUT') headers['content-length'] = String(request.body?.length ?? 0)
    const signed = await signer.sign({method: request.method, protocol: this.#tls ? 'https:' : 'http:', hostname, port: this.#port, path, query, headers})
    const search = Object.keys(query)
      .sort()
      .map((name) => `${escape(name)}=${escape(query[name])}`)
      .join('&')
    return new Promise<WireResponse>((resolve, reject) => {
      const req = (this.#tls ? https : http).request({
        agent: this.#tls ? this.httpsAgent : this.httpAgent,
        hostname,
        port: this.#port,
        method: request.method,
        path: search ? `${path}?${search}` : path,
        headers: signed.headers,
      })
      const fail = (error: Error) => req.destroy(error)
      const timeout = (what: string) => Object.assign(new Error(`${what} timed out`), {name: 'TimeoutError', code: 'ETIMEDOUT'})
      // Idle time on the socket, request or response: catches stalls, not slow transfers.
      req.setTimeout(this.#settings.timeoutMs, () => fail(timeout('request')))
      req.on('socket', (socket) => {
        if (!socket.connecting) return
        const timer = setTimeout(() => fail(timeout('connection')), Math.min(this.#settings.timeoutMs, 10_000))
        socket.once('connect', () => clearTimeout(timer))
        socket.once('close', () => clearTimeout(timer))
      })
      const signal = request.signal
      const abort = () => fail(signal!.reason as Error)
      signal?.addEventListener('abort', abort, {once: true})
      req.once('close', () => signal?.removeEventListener('abort', abort))
      req.once('error', reject)
      req.once('response', (res) => {
        const status = res.statusCode ?? 0
        if (status >= 200 && status < 300) {
          if (request.method === 'HEAD' || status === 204) res.resume()
          // The body outlives the request: a later abort must still stop it.
          if (signal && !(request.method === 'HEAD' || status === 204)) {
            const stop = () => res.destroy(signal.reason as Error)
            signal.addEventListener('abort', stop, {once: true})
            res.once('close', () => signal.removeEventListener('abort', stop))
          }
          resolve({status, headers: res.headers, body: res})
          return
        }
        readError(res, status).then(reject, reject)
      })
      req.end(request.body)
    })
  }

  destroy(): void {
    this.httpAgent.destroy()
    this.httpsAgent.destroy()
  }
}

/** AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, unless a profile is asked for (the SDK's order). */
function environmentCredentials(settings: ConnectionSettings, env: NodeJS.ProcessEnv = process.env): Credentials | undefined {
  if (settings.profile || env.AWS_PROFILE) return undefined
  const accessKeyId = env.AWS_ACCESS_KEY_ID
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY
  if (!accessKeyId || !secretAccessKey) return undefined
  return env.AWS_SESSION_TOKEN ? {accessKeyId, secretAccessKey, sessionToken: env.AWS_SESSION_TOKEN} : {accessKeyId, secretAccessKey}
}

/** Error bodies are small XML documents; anything past this is not read. */
const MAX_ERROR_BODY = 64 * 1024

async function readError(res: IncomingMessage, status: number): Promise<S3ResponseError> {
  let text = ''
  for await (const piece of res as AsyncIterable<Buffer>) {
    if (text.length < MAX_ERROR_BODY) text += piece.toString('utf8')
  }
  const fallback = BODYLESS_CODES[status] ?? 'UnknownError'
  if (!text.trim()) return new S3ResponseError(status, fallback, '', headerOf(res.headers, 'x-amz-request-id'))
  const {parseXML} = await import('@aws-sdk/xml-builder')
  try {
    const parsed = parseXML(text) as {Error?: {Code?: string; Message?: string; RequestId?: string}}
    const e = parsed.Error ?? {}
    return new S3ResponseError(status, text0(e.Code) || fallback, text0(e.Message), text0(e.RequestId) || headerOf(res.headers, 'x-amz-request-id'))
  } catch {
    return new S3ResponseError(status, fallback, text.slice(0, 200))
  }
}

function text0(value: unknown): string {
  return typeof value === 'string' ? value : ''
}

export function headerOf(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name]
  return Array.isArray(value) ? value[0] : value
}

/** x-amz-meta-* headers, as the SDK's `Metadata` (names without the prefix). */
export function metadataOf(headers: IncomingHttpHeaders): Record<string, string> {
  const metadata: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith('x-amz-meta-') && value !== undefined) metadata[name.slice('x-amz-meta-'.length)] = Array.isArray(value) ? value.join(',') : value
  }
  return metadata
}

/** What the SDK's HeadObject/GetObject outputs give, read from an answer's headers. */
export interface ObjectHead {
  ContentLength?: number
  ContentRange?: string
  ContentType?: string
  ETag?: string
  LastModified?: Date
  Metadata?: Record<string, string>
  StorageClass?: string
  Restore?: string
  VersionId?: string
  ObjectLockMode?: 'COMPLIANCE' | 'GOVERNANCE'
  ObjectLockRetainUntilDate?: Date
  ObjectLockLegalHoldStatus?: 'ON' | 'OFF'
}

export function objectHead(headers: IncomingHttpHeaders): ObjectHead {
  const get = (name: string) => headerOf(headers, name)
  const date = (value: string | undefined) => (value ? new Date(value) : undefined)
  const length = get('content-length')
  const head: ObjectHead = {
    ContentLength: length === undefined ? undefined : Number(length),
    ContentRange: get('content-range'),
    ContentType: get('content-type'),
    ETag: get('etag'),
    LastModified: date(get('last-modified')),
    Metadata: metadataOf(headers),
    StorageClass: get('x-amz-storage-class'),
    Restore: get('x-amz-restore'),
    VersionId: get('x-amz-version-id'),
    ObjectLockMode: get('x-amz-object-lock-mode') as ObjectHead['ObjectLockMode'],
    ObjectLockRetainUntilDate: date(get('x-amz-object-lock-retain-until-date')),
    ObjectLockLegalHoldStatus: get('x-amz-object-lock-legal-hold') as ObjectHead['ObjectLockLegalHoldStatus'],
  }
  for (const key of Object.keys(head) as (keyof ObjectHead)[]) if (head[key] === undefined) delete head[key]
  return head
}
