import {homedir} from 'node:os'
import {resolve} from 'node:path'
import {UsageError} from '@plakar/sdk'

/**
 * "sqlite:/abs/file.db", "sqlite:///abs/file.db", "sqlite:relative.db" or "sqlite:~/file.db"
 * → an absolute file path.
 */
export function sqlitePath(location: string, cwd = process.cwd()): string {
  let path = location.replace(/^sqlite:/i, '')
  if (path.startsWith('//')) {
    // URL form: only an empty authority is meaningful ("sqlite:///abs/file.db").
    const rest = path.slice(2)
    if (!rest.startsWith('/')) throw new UsageError(`invalid sqlite location "${location}": write sqlite:/path/to/file.db`)
    path = rest
  }
  if (path === '') throw new UsageError(`invalid sqlite location "${location}": write sqlite:/path/to/file.db`)
  if (path === '~' || path.startsWith('~/')) path = resolve(homedir(), path.slice(2))
  return resolve(cwd, path)
}
