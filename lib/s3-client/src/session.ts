import type * as Sdk from '@aws-sdk/client-s3'
import {childSignal, withRetry, type Logger} from '@plakar/sdk'
import {isTransient, translate} from './errors.js'
import {Limiter} from './limiter.js'
import type {ConnectionSettings} from './connection.js'
import {formatBucketLocation, type BucketLocation} from './location.js'

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
 * One endpoint + bucket: the SDK client, a bound on requests in flight, and every call wrapped
 * in retries (exponential backoff with full jitter, transient errors only) and turned into a
 * one-line error after the last attempt. `S` is the connector's settings (the connection
 * settings plus its own options), kept here so that its code finds them with the session.
 */
export class S3Session<S extends ConnectionSettings = ConnectionSettings> {
  readonly location: BucketLocation
  readonly settings: S
  readonly client: Sdk.S3Client
  readonly sdk: SdkModule
  readonly limiter: Limiter
  readonly #logger: Logger
  readonly #agents: {destroy(): void}[]

  private constructor(location: BucketLocation, settings: S, sdk: SdkModule, client: Sdk.S3Client, logger: Logger, agents: {destroy(): void}[]) {
    this.#agents = agents
    this.location = location
    this.settings = settings
    this.sdk = sdk
    this.client = client
    this.limiter = new Limiter(settings.connections)
    this.#logger = logger
  }

  static async open<S extends ConnectionSettings>(location: BucketLocation, settings: S, logger: Logger): Promise<S3Session<S>> {
    const [sdk, http, https] = await Promise.all([loadSdk(), import('node:http'), import('node:https')])
    // Sockets: one per request in flight plus room for bodies still being consumed.
    const agent = {keepAlive: true, maxSockets: settings.connections * 2, scheduling: 'lifo' as const}
    const httpAgent = new http.Agent(agent)
    const httpsAgent = new https.Agent(agent)
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
        httpAgent,
        httpsAgent,
      },
    })
    return new S3Session(location, settings, sdk, client, logger, [httpAgent, httpsAgent])
  }

  get bucket(): string {
    return this.location.bucket
  }

  /** scheme://host[:port]/bucket[/prefix]: what messages show (no credentials, ever). */
  get display(): string {
    return formatBucketLocation(this.location)
  }

  /** Runs one S3 request (`fn` may be called several times: it must build a fresh request). */
  async call<T>(what: string, fn: (client: Sdk.S3Client, sdk: SdkModule) => Promise<T>, options: CallOptions = {}): Promise<T> {
    let attempts = 0
    options.signal?.throwIfAborted()
    // The SDK aborts a request when its send() is given the signal: hand `fn` a client that does.
    // A signal of this call's own carries the SDK's listeners (several per request), so the
    // caller's signal keeps one, however many calls run at once.
    const child = options.signal ? childSignal(options.signal) : undefined
    const signal = child?.signal
    const client = signal ? abortingClient(this.client, signal) : this.client
    const once = () => {
      // A call that waited for a slot while the command was interrupted starts nothing.
      signal?.throwIfAborted()
      attempts++
      return fn(client, this.sdk)
    }
    try {
      return await withRetry(() => (options.unlimited ? once() : this.limiter.run(once)), {
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
      await this.call(`checking bucket "${this.bucket}"`, (c, sdk) => c.send(new sdk.HeadBucketCommand({Bucket: this.bucket})), {
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
    this.client.destroy()
    for (const agent of this.#agents) agent.destroy()
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
