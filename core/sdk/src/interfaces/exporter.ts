import type {Readable} from 'node:stream'
import type {FileInfo} from './file-info.js'

export interface ExportOptions {
  /** Do not apply owner, group and permission bits. */
  skipPermissions?: boolean
}

/**
 * A restore target. Paths are '/'-separated and relative to the target's root ("/" is the root
 * itself); the engine has already rejected anything that would leave it ("..", NUL). The engine
 * creates a directory before its children and calls setMetadata on it after all of them.
 */
export interface Exporter {
  /** The location this exporter writes to, for messages. */
  readonly root: string
  createDirectory(path: string, info: FileInfo): Promise<void>
  storeFile(path: string, data: Readable, info: FileInfo): Promise<void>
  /** symlink: `target` is the link text. hardlink: `target` is an earlier path of this restore. */
  createLink(path: string, target: string, kind: 'symlink' | 'hardlink', info?: FileInfo): Promise<void>
  setMetadata(path: string, info: FileInfo): Promise<void>
  close(): Promise<void>
}
