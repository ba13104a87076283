import type {Readable} from 'node:stream'
import type {CallOptions} from './call-options.js'
import type {FileInfo} from './file-info.js'

/**
 * One entry of a data source. Paths are absolute and '/'-separated in the importer's own
 * namespace (a filesystem path, "/bucket/key", "/table/row"); the engine orders and stores them.
 */
export interface ImportRecord {
  path: string
  info: FileInfo
  /** Symlink target, verbatim. */
  target?: string
  /**
   * Content of a regular file, pulled lazily and at most once. `options.signal` aborted: stop
   * reading (the stream ends with an error) and release what it holds.
   */
  open?(options?: CallOptions): Promise<Readable>
  /**
   * The same content as a file of this host, when it is one: the engine may then read it
   * directly from its worker threads instead of calling open().
   */
  localPath?: string
}

/** A path the importer could not read. The backup records it and goes on. */
export interface ScanError {
  path: string
  error: string
  /** What is known of the entry despite the error (a directory whose listing failed). */
  info?: FileInfo
}

export interface ScanOptions {
  signal: AbortSignal
  /**
   * Return true to leave a path out. For a directory, the importer must not descend into it.
   * `path` is in the importer's namespace; `isDirectory` says what the entry is.
   */
  skip?(path: string, isDirectory: boolean): boolean
}

export interface Importer {
  /** The connector kind that made this importer: "fs", "s3", … */
  readonly type: string
  /** Where the data comes from: a host name, an endpoint. Used to find the parent snapshot. */
  readonly origin: string
  /** The scanned root in the record namespace; every record path lies under it. */
  readonly root: string
  /**
   * True when record paths are paths of this host's filesystem: the engine then keeps the
   * repository's own directory and the cache out of the backup.
   */
  readonly local?: boolean
  /** Every record under `root`, in any order. Never throws for one bad path: yields a ScanError. */
  scan(options: ScanOptions): AsyncIterable<ImportRecord | ScanError>
  close(): Promise<void>
}
