import {UsageError} from '@plakar/sdk'

/**
 * A name given by the user or found in an archive, as a record path: "./a//b/" → "/a/b".
 * Leading "/" and "." components are dropped; ".." and NUL are refused, so nothing stored can
 * later be restored above its target.
 */
export function recordPathOf(name: string): string {
  if (name.includes('\0')) throw new UsageError(`refused the name ${JSON.stringify(name)}: it holds a NUL byte`)
  const parts = name.split('/').filter((part) => part !== '' && part !== '.')
  if (parts.includes('..')) throw new UsageError(`refused the name ${JSON.stringify(name)}: it climbs out of its root with ".."`)
  return `/${parts.join('/')}`
}
