import type {Readable} from 'node:stream'
import type {CallOptions} from './call-options.js'
import type {FileInfo} from './file-info.js'

/**
 * A restore target. Paths are '/'-separated and relative to the target's root ("/" is the root
 * itself); the engine has already rejected anything that would leave it ("..", NUL). The engine
 * creates a directory before its children and calls setMetadata on it after all of them. Every
 * call may carry a signal ({@link CallOptions}): stop promptly when it is aborted.
 */
export interface Exporter {
  /** The location this exporter writes to, for messages. */
  readonly root: string
  createDirectory(path: string, info: FileInfo, options?: CallOptions): Promise<void>
  storeFile(path: string, data: Readable, info: FileInfo, options?: CallOptions): Promise<void>
  /** symlink: `target` is the link text. hardlink: `target` is an earlier path of this restore. */
  createLink(path: string, target: string, kind: 'symlink' | 'hardlink', info?: FileInfo, options?: CallOptions): Promise<void>
  setMetadata(path: string, info: FileInfo, options?: CallOptions): Promise<void>
  close(): Promise<void>
}
