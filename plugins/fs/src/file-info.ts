import {readFileSync, type Stats} from 'node:fs'
import type {EntryType, FileInfo} from '@plakar/core'

function typeOf(stats: Stats): EntryType {
  if (stats.isFile()) return 'file'
  if (stats.isDirectory()) return 'directory'
  if (stats.isSymbolicLink()) return 'symlink'
  if (stats.isBlockDevice() || stats.isCharacterDevice()) return 'device'
  if (stats.isFIFO()) return 'pipe'
  if (stats.isSocket()) return 'socket'
  return 'unknown'
}

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

export function fileInfo(stats: Stats): FileInfo {
  users ??= namesFrom('/etc/passwd')
  groups ??= namesFrom('/etc/group')
  const type = typeOf(stats)
  const info: FileInfo = {
    type,
    size: type === 'file' ? stats.size : 0,
    mode: stats.mode & 0o7777,
    mtime: stats.mtimeMs,
    atime: stats.atimeMs,
    ctime: stats.ctimeMs,
    uid: stats.uid,
    gid: stats.gid,
    dev: stats.dev,
    ino: stats.ino,
    nlink: stats.nlink,
  }
  const user = users.get(stats.uid)
  const group = groups.get(stats.gid)
  if (user) info.username = user
  if (group) info.groupname = group
  if (type === 'device') info.rdev = stats.rdev
  return info
}
