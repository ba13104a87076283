import type {Readable} from 'node:stream'
import type {CallOptions} from './call-options.js'
import type {FileInfo} from './file-info.js'

/** One whole file of a {@link Exporter.storeFiles} batch. */
export interface ExportFile {
  path: string
  /** The file's content, in order: the parts' concatenation is exactly `info.size` bytes. */
  parts: readonly Uint8Array[]
  info: FileInfo
}

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
  /**
   * Optional: many small files at once, each given whole (the engine's batches of small files,
   * at most 512 files and about 16 MiB), each stored exactly as `storeFile` would store it. One
   * call per batch lets a target write them where the caller's thread is not (the fs exporter
   * writes them on a thread of its own) instead of paying a stream and a call per file.
   * Resolves with one outcome per file, in order: `undefined` when the file is stored, else its
   * error, which the engine reports for that file as it would `storeFile`'s (the other files
   * stand). Rejects only when the call as a whole failed: a failure of the whole target
   * (`markFatal`), an abort, a broken exporter; files of the batch may then be stored or not,
   * each whole or absent. The parts are the exporter's to read until the call settles; the
   * engine does not change them. Every file's parent directories exist (createDirectory came
   * first), and setMetadata on them comes only after the call settled.
   */
  storeFiles?(files: readonly ExportFile[], options?: CallOptions): Promise<(Error | undefined)[]>
  /** symlink: `target` is the link text. hardlink: `target` is an earlier path of this restore. */
  createLink(path: string, target: string, kind: 'symlink' | 'hardlink', info?: FileInfo, options?: CallOptions): Promise<void>
  setMetadata(path: string, info: FileInfo, options?: CallOptions): Promise<void>
  close(): Promise<void>
}
