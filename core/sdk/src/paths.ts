import {join} from 'node:path'
import {UsageError} from './errors.js'

/**
 * Paths the engine hands an exporter are '/'-separated and relative to the exporter's root ("/"
 * is the root itself). The engine already rejects "..", but an exporter is the last line of
 * defence against a malicious snapshot: check again, with these.
 */

/** The components of a restore path: "/a/b.txt" → ["a", "b.txt"]; "/" → []. Refuses "..", "." and NUL. */
export function pathComponents(path: string): string[] {
  if (path.includes('\0')) throw new UsageError('refused a path with a NUL byte')
  const parts = path.split('/').filter((part) => part !== '')
  if (parts.some((part) => part === '.' || part === '..')) throw new UsageError(`refused path ${JSON.stringify(path)}: it would leave the restore target`)
  return parts
}

/** The local path of a restore path under `root`, never outside it ("/" is `root` itself). */
export function localPathInside(root: string, path: string): string {
  return join(root, ...pathComponents(path))
}

/** The parent of a restore path ("/a/b" → "/a", "/a" → "/"), or undefined for the root. */
export function parentPath(path: string): string | undefined {
  const parts = pathComponents(path)
  if (parts.length === 0) return undefined
  return `/${parts.slice(0, -1).join('/')}`
}
