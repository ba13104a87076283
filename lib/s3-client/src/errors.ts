import {AuthError, ExitCode, isTransientNetworkError, markFatal, NotFoundError, PlakarError} from '@plakar/sdk'

/** The fields of an AWS SDK v3 error (service exceptions and transport errors alike). */
interface SdkErrorLike {
  name?: string
  code?: string
  Code?: string
  message?: string
  cause?: unknown
  $metadata?: {httpStatusCode?: number; attempts?: number}
  $response?: {statusCode?: number}
}

function fields(error: unknown): SdkErrorLike {
  return typeof error === 'object' && error !== null ? (error as SdkErrorLike) : {}
}

export function statusOf(error: unknown): number | undefined {
  const e = fields(error)
  return e.$metadata?.httpStatusCode ?? e.$response?.statusCode
}

/** The S3 error code ("NoSuchKey", "SlowDown"…), or the transport error's name/code. */
export function codeOf(error: unknown): string {
  const e = fields(error)
  return e.Code ?? (e.name && e.name !== 'Error' ? e.name : undefined) ?? e.code ?? 'Error'
}

const THROTTLING = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottled',
  'RequestLimitExceeded',
  'TooManyRequests',
  'TooManyRequestsException',
  'BandwidthLimitExceeded',
])

/** S3 errors that say "try again", whatever their HTTP status. */
const TRANSIENT = new Set([
  'InternalError',
  'ServiceUnavailable',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  // The body arrived damaged or short: a new attempt resends it.
  'BadDigest',
  'IncompleteBody',
  'XAmzContentSHA256Mismatch',
  'PriorRequestNotComplete',
])

const AUTH = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AccessDenied',
  'Forbidden',
  'InvalidToken',
  'ExpiredToken',
  'TokenRefreshRequired',
  'AllAccessDisabled',
  'AccountProblem',
  'InvalidSecurity',
  'CredentialsProviderError',
])

export const NOT_FOUND_OBJECT = new Set(['NoSuchKey', 'NotFound'])

export function isNoSuchBucket(error: unknown): boolean {
  return codeOf(error) === 'NoSuchBucket'
}

/** A missing object (GetObject's NoSuchKey, HeadObject's bare 404). */
export function isMissingObject(error: unknown): boolean {
  const code = codeOf(error)
  return NOT_FOUND_OBJECT.has(code) || (statusOf(error) === 404 && code !== 'NoSuchBucket' && code !== 'NoSuchUpload')
}

export function isAuthFailure(error: unknown): boolean {
  return AUTH.has(codeOf(error)) || statusOf(error) === 403
}

function isNetwork(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = fields(e).cause, depth++) {
    if (isTransientNetworkError(e)) return true
    const code = fields(e).code
    if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ETIMEDOUT' || code === 'ENOTFOUND' || code === 'UND_ERR_SOCKET') return true
    if (/socket hang up|premature close|aborted/i.test(fields(e).message ?? '') && !fields(e).$metadata?.httpStatusCode) return true
  }
  return false
}

/**
 * Worth another attempt: 5xx (but 501), 429/408, throttling, S3's "try again" codes, timeouts,
 * and connections that were refused, reset or cut. Never 403, 404 or NoSuchBucket.
 */
export function isTransient(error: unknown): boolean {
  if (isAuthFailure(error) || isMissingObject(error) || isNoSuchBucket(error)) return false
  const code = codeOf(error)
  if (THROTTLING.has(code) || TRANSIENT.has(code)) return true
  const status = statusOf(error)
  if (status !== undefined && ((status >= 500 && status !== 501) || status === 429 || status === 408)) return true
  if (code === 'ENOTFOUND') return false
  return isNetwork(error)
}

const NETWORK_WORDS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: 'timed out',
  TimeoutError: 'timed out',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EPIPE: 'connection closed',
  ERR_STREAM_PREMATURE_CLOSE: 'connection closed',
}

function firstLine(text: string | undefined): string {
  return (text ?? '').split('\n').map((l) => l.trim()).find(Boolean) ?? ''
}

export interface ErrorContext {
  /** What was being done: "reading object x", "listing bucket b". */
  what: string
  endpoint: string
  bucket: string
  /** What the user should do about a missing bucket. */
  missingBucketHint?: string
  attempts?: number
}

/**
 * The one line a user sees for a failed S3 call, as a PlakarError carrying the exit code
 * and `fatal: true`:
 * 77 for refused credentials, 66 for a missing bucket, 1 otherwise. Never includes secrets
 * (the SDK's messages carry at most the access key id, which is not one).
 */
export function translate(error: unknown, ctx: ErrorContext): PlakarError {
  const translated = describe(error, ctx)
  // The endpoint failed as a whole (after every retry): the engine ends the operation with this
  // one error instead of recording it against every remaining file. Per-object outcomes
  // (missing, changed) never come here.
  return markFatal(translated)
}

function describe(error: unknown, ctx: ErrorContext): PlakarError {
  if (typeof (error as {plakarExitCode?: unknown})?.plakarExitCode === 'number') return error as PlakarError
  const code = codeOf(error)
  const status = statusOf(error)
  const after = ctx.attempts && ctx.attempts > 1 ? ` (after ${ctx.attempts} attempts)` : ''
  if (isNoSuchBucket(error)) {
    return new NotFoundError(
      `bucket "${ctx.bucket}" does not exist at ${ctx.endpoint}${ctx.missingBucketHint ? `: ${ctx.missingBucketHint}` : ''}`,
      {cause: error},
    )
  }
  if (code === 'CredentialsProviderError' || /could not load credentials/i.test(fields(error).message ?? '')) {
    return new AuthError(
      `no S3 credentials for ${ctx.endpoint}: give access_key=… and secret_access_key=…, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)`,
      {cause: error},
    )
  }
  if (code === 'AccessDenied' || code === 'AllAccessDisabled') {
    return new AuthError(`access denied by ${ctx.endpoint} while ${ctx.what} (${code}): check the permissions of these credentials on bucket "${ctx.bucket}"`, {
      cause: error,
    })
  }
  if (isAuthFailure(error)) {
    return new AuthError(
      `${ctx.endpoint} refused the credentials while ${ctx.what} (${code === 'Error' || code === 'Unknown' ? `HTTP ${status}` : code}): ` +
        'check access_key and secret_access_key (or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)',
      {cause: error},
    )
  }
  const errno = fields(error).code
  const net = NETWORK_WORDS[errno ?? ''] ?? NETWORK_WORDS[code]
  if (net && status === undefined) return new PlakarError(`cannot reach ${ctx.endpoint} while ${ctx.what}: ${net}${after}`, ExitCode.ERROR, {cause: error})
  if (errno === 'EPROTO' || /wrong version number|ssl|tls/i.test(fields(error).message ?? '') || errno?.startsWith('ERR_SSL') || errno?.startsWith('ERR_TLS')) {
    const reason = /wrong version number/i.test(fields(error).message ?? '')
      ? 'the server does not speak TLS'
      : (/([a-z][a-z ]+[a-z])(?::[^:]*:\d+:?)?$/i.exec(firstLine(fields(error).message))?.[1] ?? errno ?? 'error')
    return new PlakarError(`TLS handshake with ${ctx.endpoint} failed: ${reason} (for a plain-http server, set use_tls=false)`, ExitCode.ERROR, {
      cause: error,
    })
  }
  if (code === 'PermanentRedirect' || code === 'AuthorizationHeaderMalformed' || code === 'IllegalLocationConstraintException') {
    return new PlakarError(`${ctx.endpoint} answered ${code} while ${ctx.what}: the bucket lives in another region (set region=…)`, ExitCode.ERROR, {cause: error})
  }
  const detail = firstLine(fields(error).message)
  const what = code !== 'Error' && code !== 'Unknown' && code !== 'UnknownError' ? code : status ? `HTTP ${status}` : 'error'
  return new PlakarError(
    `S3 error while ${ctx.what} at ${ctx.endpoint}: ${what}${detail && detail !== code && detail !== 'UnknownError' ? `: ${detail}` : ''}${status && what !== `HTTP ${status}` ? ` (HTTP ${status})` : ''}${after}`,
    ExitCode.ERROR,
    {cause: error},
  )
}
