import {readFileSync, type Stats} from 'node:fs'
import {fileInfoFromStats, type FileInfo} from '@plakar/sdk'

/** uid/gid → names from /etc/passwd and /etc/group (Node has no getpwuid), read once. */
let users: Map<number, string> | undefined
let groups: Map<number, string> | undefined
function namesFrom(file: string): Map<number, string> {
  const map = new Map<number, string>()
  try {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const [name, , id] = line.split(':')
      if (name && id !== undefined && /^\d+$/.test(id)) map.set(Number(id), name)
    }
  } catch {
    // No such database (containers): names stay unknown.
  }
  return map
}

/** The SDK's FileInfo of an lstat result, plus the owner's user and group names. */
export function fileInfo(stats: Stats): FileInfo {
  users ??= namesFrom('/etc/passwd')
  groups ??= namesFrom('/etc/group')
  const info = fileInfoFromStats(stats)
  const user = users.get(stats.uid)
  const group = groups.get(stats.gid)
  if (user) info.username = user
  if (group) info.groupname = group
  return info
}
