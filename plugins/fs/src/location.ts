import {resolve} from 'node:path'

/** "fs:/path", "fs:///path", "fs:relative" or an already absolute path → absolute path. */
export function fsPath(location: string): string {
  let path = location
  if (path.startsWith('fs://')) path = path.slice(5)
  else if (path.startsWith('fs:')) path = path.slice(3)
  return resolve(path || '.')
}
