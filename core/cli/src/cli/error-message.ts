import {PlakarError} from '@plakar/sdk'

/** System error codes a user can act on, and what to say about them. */
const SYSTEM: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the filesystem is read-only',
  ENOENT: 'no such file or directory',
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by peer',
  ETIMEDOUT: 'connection timed out',
  ENOTFOUND: 'host not found',
  EMFILE: 'too many open files',
}

const FULL = 'free some space and run the command again (nothing already stored is lost)'
const ADVICE: Record<string, string> = {ENOSPC: FULL, EDQUOT: FULL}

/** The one line a user sees for an error: what went wrong and, where it helps, what to do. */
export function describeError(error: unknown): string {
  if (typeof error !== 'object' || error === null) return String(error)
  const e = error as NodeJS.ErrnoException & {plakarExitCode?: number}
  if (e instanceof PlakarError || typeof e.plakarExitCode === 'number') return firstLine(e.message)
  if (e.code && SYSTEM[e.code]) {
    const where = e.path ? `: ${e.path}` : ''
    return `${SYSTEM[e.code]}${where}${ADVICE[e.code] ? `: ${ADVICE[e.code]}` : ''}`
  }
  const message = firstLine(e.message ?? String(error)).replace(/\s*See more help with --help$/, '')
  return message || 'unexpected error (run with --debug for details)'
}

function firstLine(text: string): string {
  // oclif's parse errors start with a heading ("The following error occurred:") and give the
  // actual problem ("Missing required flag to") on the next line.
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !/^The following errors? occurred:$/.test(l))
  return lines[0] ?? ''
}
