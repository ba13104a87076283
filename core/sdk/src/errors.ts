/**
 * The error hierarchy. Every error a user can meet carries the exit code documented in
 * docs/commands/plakar.md and a one-line message that says what went wrong and what to do.
 * Plugins live in other module graphs (their own copy of this file), so the CLI recognises
 * these errors by their `plakarExitCode` property, never with `instanceof`.
 */
export const ExitCode = {
  OK: 0,
  ERROR: 1,
  USAGE: 2,
  INTEGRITY: 65,
  NOT_FOUND: 66,
  AUTH: 77,
  FORMAT_TOO_NEW: 78,
} as const
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode]

export class PlakarError extends Error {
  readonly plakarExitCode: number
  constructor(message: string, exitCode: number = ExitCode.ERROR, options?: {cause?: unknown}) {
    super(message, options)
    this.name = new.target.name
    this.plakarExitCode = exitCode
  }
}

/** Bad command line: unknown flag, malformed location, ambiguous snapshot prefix. */
export class UsageError extends PlakarError {
  constructor(message: string, options?: {cause?: unknown}) {
    super(message, ExitCode.USAGE, options)
  }
}

/** The repository, a snapshot or a path inside one does not exist. */
export class NotFoundError extends PlakarError {
  constructor(message: string, options?: {cause?: unknown}) {
    super(message, ExitCode.NOT_FOUND, options)
  }
}

/** Wrong passphrase or key, or credentials refused by a remote. */
export class AuthError extends PlakarError {
  constructor(message: string, options?: {cause?: unknown}) {
    super(message, ExitCode.AUTH, options)
  }
}

/** A stored structure was written by a newer plakar than this one. */
export class FormatTooNewError extends PlakarError {
  constructor(message: string, options?: {cause?: unknown}) {
    super(message, ExitCode.FORMAT_TOO_NEW, options)
  }
}

/** Stored data failed authentication or is missing: corruption, truncation, tampering. */
export class IntegrityError extends PlakarError {
  constructor(message: string, options?: {cause?: unknown}) {
    super(message, ExitCode.INTEGRITY, options)
  }
}

/**
 * Raised by storages for a missing object. Storages from installed plugins may throw their own
 * error with `code === 'ENOENT'` or `notFound === true`; {@link isNotFound} accepts all three.
 */
export class ObjectNotFoundError extends PlakarError {
  readonly notFound = true
  constructor(message: string, options?: {cause?: unknown}) {
    super(message, ExitCode.NOT_FOUND, options)
  }
}

/**
 * Raised by cold storages when an object is archived and not thawed: it exists but cannot be
 * read until a restore completes. Recognised by `cold === true` ({@link isColdObject}).
 */
export class ColdObjectError extends PlakarError {
  readonly cold = true
  readonly storageClass?: string
  constructor(message: string, options?: {cause?: unknown; storageClass?: string}) {
    super(message, ExitCode.ERROR, options)
    this.storageClass = options?.storageClass
  }
}

export function isColdObject(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as {cold?: unknown}).cold === true
}

/**
 * Raised by WORM storages asked to delete an object under retention (Object Lock, a legal hold,
 * a minimum storage duration): nothing was deleted. `until` says when it can go (ms since the
 * epoch; absent under a legal hold, which has no end date). Recognised by `retained === true`.
 */
export class RetainedObjectError extends PlakarError {
  readonly retained = true
  readonly until?: number
  constructor(message: string, options?: {cause?: unknown; until?: number}) {
    super(message, ExitCode.ERROR, options)
    this.until = options?.until
  }
}

export function isRetained(error: unknown): error is {retained: true; until?: number; message: string} {
  return typeof error === 'object' && error !== null && (error as {retained?: unknown}).retained === true
}

export function isNotFound(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false
  const e = error as {notFound?: unknown; code?: unknown}
  return e.notFound === true || e.code === 'ENOENT'
}

/**
 * A connector that gave up marks its error `fatal: true`: the endpoint failed as a whole (every
 * retry spent, the server gone, credentials revoked), so the engine ends the operation with this
 * one error instead of recording it against every remaining file. Per-object outcomes (missing,
 * changed, unreadable) are never fatal. Recognised by the property, like the other marks.
 */
export function markFatal<E extends object>(error: E): E & {fatal: true} {
  ;(error as E & {fatal: true}).fatal = true
  return error as E & {fatal: true}
}

export function isFatal(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as {fatal?: unknown}).fatal === true
}

export function exitCodeOf(error: unknown): number {
  if (typeof error === 'object' && error !== null) {
    const code = (error as {plakarExitCode?: unknown}).plakarExitCode
    if (typeof code === 'number') return code
  }
  return ExitCode.ERROR
}

export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message
  return String(error)
}
