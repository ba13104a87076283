import type {Readable} from 'node:stream'

/** The kinds of objects a repository stores besides its config. */
export type Kind = 'packfile' | 'state' | 'lock'

/** Object ids are lowercase hex strings (64 characters for content-addressed objects). */
export type Id = string

export interface Range {
  offset: number
  length: number
}

export interface StorageCapabilities {
  read: boolean
  write: boolean
  delete: boolean
  /** Objects may sit in a tier that must be restored before they can be read (Glacier). */
  cold?: boolean
  /** Objects cannot be deleted or overwritten before a retention date (S3 Object Lock). */
  worm?: boolean
}

/** Where a repository lives. Every method may be called concurrently. */
export interface Storage {
  /** The location, for messages (never with credentials). */
  readonly location: string
  /** The local directory or file the repository occupies, when it is on this host. */
  readonly localPath?: string
  /** Store the repository config; fails if a repository already exists here. */
  create(config: Uint8Array): Promise<void>
  /** The stored config; throws a not-found error (see isNotFound) when there is no repository. */
  open(): Promise<Uint8Array>
  list(kind: Kind): AsyncIterable<Id>
  /** Atomic (readers never see a partial object) and idempotent (same id, same bytes). */
  put(kind: Kind, id: Id, data: Readable, size: number): Promise<void>
  /** Throws a not-found error for a missing object. A range past the end is an error. */
  get(kind: Kind, id: Id, range?: Range): Promise<Readable>
  /** Size of an object; throws not-found when missing. */
  stat(kind: Kind, id: Id): Promise<{size: number}>
  /** Deleting a missing object is not an error. */
  delete(kind: Kind, id: Id): Promise<void>
  capabilities(): StorageCapabilities
  close(): Promise<void>
}

/** Extra contract of storages with a cold tier: objects are made readable on request. */
export interface ColdStorage extends Storage {
  /** Ask for objects to be made readable for `days`. Idempotent. */
  requestRestore(kind: Kind, ids: Id[], options: {days: number; tier?: string}): Promise<void>
  /** Whether an object can be read now. */
  restoreStatus(kind: Kind, id: Id): Promise<'available' | 'in-progress' | 'archived'>
}
