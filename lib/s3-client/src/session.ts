import type * as Sdk from '@aws-sdk/client-s3'
import {childSignal, withRetry, type Logger} from '@plakar/sdk'
import {isTransient, translate} from './errors.js'
import {Limiter} from './limiter.js'
import type {ConnectionSettings} from './connection.js'
import {formatBucketLocation, type BucketLocation} from './location.js'
import {S3Wire, type WireRequest, type WireResponse} from './wire.js'

export type SdkModule = typeof Sdk

export interface CallOptions {
  /** Errors handed back untouched (no retry, no translation): NoSuchKey when it means absence… */
  passthrough?: (error: unknown) => boolean
  /** What to tell the user about a missing bucket. */
  missingBucketHint?: string
  /** Bypass the limiter (calls made while holding a slot already). */
  unlimited?: boolean
  /**
   * The caller's signal (the command's Ctrl-C): aborts the request in flight, and the retries.
   * A call stopped this way rejects with the signal's reason, untranslated and never fatal.
   */
  signal?: AbortSignal
}

let sdkModule: Promise<SdkModule> | undefined

/** The SDK is heavy (≈100 ms to import): loaded on first use, never at CLI start-up. */
export function loadSdk(): Promise<SdkModule> {
  // The SDK warns on every run that later releases need Node 22; the version is pinned.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'
  sdkModule ??= import('@aws-sdk/client-s3')
  return sdkModule
}

/**
 * One endpoint + bucket: a bound on requests in flight, and every call wrapped in retries
 * (exponential backoff with full jitter, transient errors only) and turned into a one-line error
 * after the last attempt. The frequent requests go over the wire (wire.ts: signed node:http
 * requests); the SDK client, for the rest, is created on first use. `S` is the connector's
 * settings (the connection settings plus its own options), kept here so that its code finds them
 * with the session.
 */
export class S3Session<S extends ConnectionSettings = ConnectionSettings> {
  readonly location: BucketLocation
  readonly settings: S
  readonly limiter: Limiter
  readonly wire: S3Wire
  readonly #logger: Logger
  #sdk: Promise<{client: Sdk.S3Client; sdk: SdkModule}> | undefined

  private constructor(location: BucketLocation, settings: S, logger: Logger) {
    this.location = location
    this.settings = settings
    this.limiter = new Limiter(settings.connections)
    this.#logger = logger
    this.wire = new S3Wire({
      settings,
      bucket: location.bucket,
      // Sockets: one per request in flight plus room for bodies still being consumed.
      maxSockets: settings.connections * 2,
      // Profiles, SSO, instance roles…: the SDK's provider chain, which refreshes what expires.
      fallbackCredentials: async () => {
        const {client} = await this.sdkClient()
        return client.config.credentials()
      },
    })
  }

  static async open<S extends ConnectionSettings>(location: BucketLocation, settings: S, logger: Logger): Promise<S3Session<S>> {
    return new S3Session(location, settings, logger)
  }

  /** The SDK and its client, created on first use on the wire's sockets. */
  sdkClient(): Promise<{client: Sdk.S3Client; sdk: SdkModule}> {
    this.#sdk ??= loadSdk().then((sdk) => {
      const settings = this.settings
      const client = new sdk.S3Client({
        endpoint: settings.endpoint,
        region: settings.region,
        forcePathStyle: settings.pathStyle,
        credentials: settings.credentials,
        profile: settings.profile,
        // Streamed bodies would otherwise be sent aws-chunked with a trailing CRC32: radosgw
        // answers 411 and s3rver stores the framing as data (STACK.md).
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        // Retries are ours (withRetry): one policy, one final message, bodies we can replay.
        maxAttempts: 1,
        requestHandler: {
          connectionTimeout: Math.min(settings.timeoutMs, 10_000),
          // Idle time on the socket, request or response: catches stalls, not slow transfers.
          socketTimeout: settings.timeoutMs,
          httpAgent: this.wire.httpAgent,
          httpsAgent: this.wire.httpsAgent,
        },
      })
      return {client, sdk}
    })
    return this.#sdk
  }

  get bucket(): string {
    return this.location.bucket
  }

  /** scheme://host[:port]/bucket[/prefix]: what messages show (no credentials, ever). */
  get display(): string {
    return formatBucketLocation(this.location)
  }

  /** Runs one SDK request (`fn` may be called several times: it must build a fresh request). */
  async call<T>(what: string, fn: (client: Sdk.S3Client, sdk: SdkModule) => Promise<T>, options: CallOptions = {}): Promise<T> {
    options.signal?.throwIfAborted()
    const {client: plain, sdk} = await this.sdkClient()
    return this.#retrying(what, options, (signal) => {
      // The SDK aborts a request when its send() is given the signal: hand `fn` a client that does.
      const client = signal ? abortingClient(plain, signal) : plain
      return fn(client, sdk)
    })
  }

  /** Sends one request over the wire (wire.ts), with the same retries and messages as `call`. */
  async send(what: string, request: Omit<WireRequest, 'signal'>, options: CallOptions = {}): Promise<WireResponse> {
    return this.#retrying(what, options, (signal) => this.wire.send({...request, signal}))
  }

  async #retrying<T>(what: string, options: CallOptions, once: (signal: AbortSignal | undefined) => Promise<T>): Promise<T> {
    let attempts = 0
    options.signal?.throwIfAborted()
    // A signal of this call's own carries the request's listeners (several per request with
    // the SDK), so the caller's signal keeps one, however many calls run at once.
    const child = options.signal ? childSignal(options.signal) : undefined
    const signal = child?.signal
    const attempt = () => {
      // A call that waited for a slot while the command was interrupted starts nothing.
      signal?.throwIfAborted()
      attempts++
      return once(signal)
    }
    try {
      return await withRetry(() => (options.unlimited ? attempt() : this.limiter.run(attempt)), {
        signal,
        attempts: this.settings.attempts,
        baseDelayMs: 250,
        maxDelayMs: 8000,
        retryable: (error) => !options.passthrough?.(error) && isTransient(error),
        onRetry: (error, attempt, delay) =>
          this.#logger.debug(`${this.location.scheme}: ${what}: ${describeBriefly(error)}; attempt ${attempt + 1} of ${this.settings.attempts} in ${Math.round(delay)} ms`),
      })
    } catch (error) {
      if (signal?.aborted) throw signal.reason
      if (options.passthrough?.(error)) throw error
      throw this.translate(error, what, attempts, options.missingBucketHint)
    } finally {
      child?.release()
    }
  }

  translate(error: unknown, what: string, attempts?: number, missingBucketHint?: string) {
    return translate(error, {what, endpoint: this.settings.endpoint, bucket: this.bucket, attempts, missingBucketHint})
  }

  debug(message: string): void {
    this.#logger.debug(`${this.location.scheme}: ${message}`)
  }

  retryDelay(attempt: number): number {
    return Math.random() * Math.min(8000, 250 * 2 ** (attempt - 1))
  }

  /**
   * Whether the bucket exists and these credentials may use it. Returns false for a missing
   * bucket; throws a one-line error for refused credentials or an unreachable endpoint.
   */
  async bucketExists(): Promise<boolean> {
    try {
      await this.send(`checking bucket "${this.bucket}"`, {method: 'HEAD'}, {
        passthrough: (e) => (e as {$metadata?: {httpStatusCode?: number}}).$metadata?.httpStatusCode === 404,
      })
      return true
    } catch (error) {
      if ((error as {$metadata?: {httpStatusCode?: number}}).$metadata?.httpStatusCode === 404) return false
      throw error
    }
  }

  /**
   * Creates the bucket, with Object Lock when asked (most servers turn it on only at creation);
   * another client creating it at the same moment is fine.
   */
  async createBucket(objectLock = false): Promise<void> {
    await this.call(
      `creating bucket "${this.bucket}"`,
      (c, sdk) =>
        c.send(
          new sdk.CreateBucketCommand({
            Bucket: this.bucket,
            ...(objectLock ? {ObjectLockEnabledForBucket: true} : {}),
            ...(this.settings.region !== 'us-east-1' ? {CreateBucketConfiguration: {LocationConstraint: this.settings.region as Sdk.BucketLocationConstraint}} : {}),
          }),
        ),
      {passthrough: (e) => ['BucketAlreadyOwnedByYou'].includes((e as {name?: string}).name ?? '')},
    ).catch((error) => {
      if ((error as {name?: string}).name !== 'BucketAlreadyOwnedByYou') throw error
    })
  }

  close(): void {
    void this.#sdk?.then(({client}) => client.destroy())
    this.wire.destroy()
  }
}

/** `client` whose send() passes `signal` to every request (the SDK's abortSignal option). */
function abortingClient(client: Sdk.S3Client, signal: AbortSignal): Sdk.S3Client {
  return new Proxy(client, {
    get(target, property, receiver) {
      if (property === 'send') {
        return (command: Parameters<Sdk.S3Client['send']>[0], options?: {abortSignal?: AbortSignal}) =>
          target.send(command as never, {...options, abortSignal: signal})
      }
      return Reflect.get(target, property, receiver) as unknown
    },
  })
}

export function describeBriefly(error: unknown): string {
  const e = error as {name?: string; code?: string; message?: string; $metadata?: {httpStatusCode?: number}}
  const status = e?.$metadata?.httpStatusCode
  return `${e?.code ?? e?.name ?? 'error'}${status ? ` (HTTP ${status})` : ''}`
}
