import type {Readable} from 'node:stream'
import type {CallOptions} from './call-options.js'

/** The kinds of objects a repository stores besides its config. */
export type Kind = 'packfile' | 'state' | 'lock'

/** Object ids are lowercase hex strings (64 characters for content-addressed objects). */
export type Id = string

/** Options of {@link Storage.readInto}. */
export interface ReadIntoOptions extends CallOptions {
  /** Where in the object the bytes start (default 0, the whole object). */
  offset?: number
}

export interface Range {
  offset: number
  length: number
}

/**
 * What a packfile holds (docs/format.md §7): `data` packfiles hold file content only (chunks);
 * `meta` packfiles hold everything else (file trees, name and type indexes, chunk lists,
 * snapshot headers). The engine never mixes the two.
 */
export type PackfileKind = 'data' | 'meta'

/** What the engine says about an object it stores. A storage may ignore all of it. */
export interface PutOptions extends CallOptions {
  /**
   * For packfiles: what the packfile holds. `meta` packfiles are read by every browsing command
   * (ls, info, locate, diff, check --fast, the UI) and must stay readable at once; `data`
   * packfiles are read only by restore, cat, a full check and sync, which thaw them first on a
   * cold storage. A storage with tiers keeps the config, states, locks and `meta` packfiles hot
   * and may put `data` packfiles in a cold tier. Absent (an engine older than this field): the
   * storage must keep the packfile hot, so that no repository becomes unbrowsable.
   */
  packfileKind?: PackfileKind
}

/**
 * What a storage can do at its location. The engine reads every field: a storage that cannot
 * write is opened for reading only (every command that writes says so at once, before any
 * work), and one that cannot delete is append-only (maintenance refuses to run there, since it
 * could free nothing).
 */
export interface StorageCapabilities {
  /**
   * @deprecated Ignored, and no longer needed: every storage must be readable (a repository
   * that cannot be read can neither be opened nor deduplicated against). Kept optional so that
   * plugins built against SDK 0.1 still type-check; it will be removed in SDK 1.0.
   */
  read?: boolean
  /** Objects and the config can be stored. False: a read-only location (a mirror, read-only credentials). */
  write: boolean
  /**
   * Packfiles and states can be deleted. False: an append-only storage. Locks are the exception:
   * every writable storage must delete `lock` objects, or no writer could release one.
   */
  delete: boolean
  /** Objects may sit in a tier that must be restored before they can be read (Glacier). */
  cold?: boolean
  /** Objects cannot be deleted or overwritten before a retention date (S3 Object Lock). */
  worm?: boolean
}

/**
 * Where a repository lives. Every method may be called concurrently. Every call may carry a
 * signal ({@link CallOptions}): stop promptly when it is aborted.
 */
export interface Storage {
  /** The location, for messages (never with credentials). */
  readonly location: string
  /** The local directory or file the repository occupies, when it is on this host. */
  readonly localPath?: string
  /** Store the repository config; fails if a repository already exists here. */
  create(config: Uint8Array, options?: CallOptions): Promise<void>
  /** The stored config; throws a not-found error (see isNotFound) when there is no repository. */
  open(options?: CallOptions): Promise<Uint8Array>
  /**
   * Replaces the config of an existing repository (a passphrase change re-wraps the key in it).
   * Atomic even if the process dies at any moment: `open()` returns the old bytes or the new,
   * never a mix and never nothing. Throws a not-found error when there is no repository. A
   * storage that cannot replace atomically throws instead of replacing.
   */
  replaceConfig(config: Uint8Array, options?: CallOptions): Promise<void>
  list(kind: Kind, options?: CallOptions): AsyncIterable<Id>
  /**
   * Optional: `list` with each object's size, where the listing has it at no extra request
   * (S3 and SFTP listings, a database). Backup compares packfile sizes with the index to find
   * truncated packfiles as cheaply as lost ones; without it, only lost ones are found.
   */
  listWithSizes?(kind: Kind, options?: CallOptions): AsyncIterable<{id: Id; size: number}>
  /** Atomic (readers never see a partial object) and idempotent (same id, same bytes). */
  put(kind: Kind, id: Id, data: Readable, size: number, options?: PutOptions): Promise<void>
  /**
   * Throws a not-found error for a missing object. A range past the end is an error. On a cold
   * storage, reading an object that is archived and not thawed throws an error with
   * `cold: true` (see {@link ColdStorage}).
   */
  get(kind: Kind, id: Id, range?: Range, options?: CallOptions): Promise<Readable>
  /**
   * Optional: the whole object read straight into `into`, which the caller sized to it (by
   * `stat`), with no stream and no copy on the caller's thread: a full check reads every
   * packfile whole, and copying a stream's pieces into one buffer was a tenth of its main
   * thread. Throws not-found for a missing object, and an error with `code: 'ESHORTREAD'` when
   * the object is not exactly `into.length` bytes. `into` may be shared memory.
   *
   * With `offset`, the bytes from there on, `into.length` of them, and `ESHORTREAD` when the
   * object ends sooner (what follows is not looked at): a check reads each packfile in windows
   * of a few MiB, held instead of two whole packfiles.
   */
  readInto?(kind: Kind, id: Id, into: Uint8Array, options?: ReadIntoOptions): Promise<void>
  /** Size of an object; throws not-found when missing. */
  stat(kind: Kind, id: Id, options?: CallOptions): Promise<{size: number}>
  /**
   * Deleting a missing object is not an error. On a WORM storage, an object under retention is
   * not deleted: the call throws an error with `retained: true` and `until` (see
   * {@link WormStorage}).
   */
  delete(kind: Kind, id: Id, options?: CallOptions): Promise<void>
  capabilities(): StorageCapabilities
  /**
   * Optional. Removes what interrupted writes of any process left behind (temporary files of
   * an atomic put, incomplete multipart uploads) that nobody has touched for `olderThanMs`:
   * never an object, and never a write still in progress. Called by writers (backup, repair)
   * at start, so a crashed or killed process's leftovers do not accumulate.
   */
  sweep?(olderThanMs: number, options?: CallOptions): Promise<SweepResult>
  close(): Promise<void>
}

/** What {@link Storage.sweep} removed. */
export interface SweepResult {
  objects: number
  bytes: number
}

/** Where an object of a cold storage stands. */
export type ThawState =
  /** Readable now, and never archived (a hot storage class). */
  | 'hot'
  /** Archived: unreadable until a restore is requested and completes. */
  | 'archived'
  /** A restore was requested and has not completed. */
  | 'in-progress'
  /** Archived, and a thawed copy is readable until `expires`. */
  | 'available'

export interface ThawStatus {
  state: ThawState
  /** `available`: when the thawed copy goes away (ms since the epoch). */
  expires?: number
  /** The object's storage class, for messages and prices ("GLACIER", "DEEP_ARCHIVE"). */
  storageClass?: string
}

/** One way of thawing (a retrieval tier) and what it costs. */
export interface ThawTier {
  /** As given to `requestRestore`: "Expedited", "Standard", "Bulk". */
  name: string
  /** Price per GiB thawed and per 1000 restore requests, in {@link ThawSettings.currency}. */
  perGiB: number
  perThousandRequests: number
  /** How long a thaw typically takes, for messages: "1-5 minutes", "3-5 hours". */
  typicalWait: string
}

export interface ThawSettings {
  /** Tier and days used when the user names none. */
  tier: string
  days: number
  /** Polling of objects being thawed: first interval, and the ceiling it doubles up to (ms). */
  pollInitialMs: number
  pollMaxMs: number
  currency: string
  /** Where the price table comes from and its date, printed with every estimate. */
  priceSource: string
}

/** What `requestRestore` did for one object. */
export interface ThawRequestOutcome {
  id: Id
  /** `requested`: a restore was asked now; the other states mean nothing was asked. */
  outcome: 'requested' | ThawState
}

/**
 * Extra contract of storages with a cold tier (Glacier): objects written cold cannot be read
 * until a restore makes a readable copy, for some days. The engine plans which objects it
 * needs, prices them with `thawTiers`, asks for them with `requestRestore`, polls
 * `restoreStatus` with backoff, and reads each object as soon as it is available.
 */
export interface ColdStorage extends Storage {
  /**
   * Asks for objects to be made readable for `days` days. Idempotent: an object already being
   * thawed, already thawed or never archived is not asked again (its outcome says why). A
   * failure for the whole storage throws; the outcomes are in the order of `ids`.
   */
  requestRestore(kind: Kind, ids: Id[], options: {days: number; tier: string} & CallOptions): Promise<ThawRequestOutcome[]>
  /** Whether an object can be read now. Throws a not-found error when it is missing. */
  restoreStatus(kind: Kind, id: Id, options?: CallOptions): Promise<ThawStatus>
  /** The tiers an object of `storageClass` can be thawed with, and their prices. */
  thawTiers(storageClass?: string): ThawTier[]
  thawSettings(): ThawSettings
}

/** Retention of one object of a WORM storage. */
export interface Retention {
  /** The object cannot be deleted or overwritten before this time (ms since the epoch). */
  until?: number
  /** "COMPLIANCE" (nobody can shorten it) or "GOVERNANCE" (privileged users can). */
  mode?: string
  /** A legal hold: no deletion at all until it is lifted, whatever `until` says. */
  legalHold?: boolean
  /**
   * Cold objects: deleting before this time is charged as if the object had stayed (the
   * minimum storage duration, 90 or 180 days); the storage refuses unless told otherwise.
   */
  minimumUntil?: number
}

/**
 * Extra contract of write-once-read-many storages (S3 Object Lock): every object is locked when
 * stored, for the storage's configured period. Deleting a locked object throws an error with
 * `retained: true` and `until` instead of deleting it; maintenance skips it and says when it
 * can go. Objects that live snapshots still use get their retention extended, so the newest
 * backups stay protected for the whole period.
 */
export interface WormStorage extends Storage {
  /** The lock new objects get: mode and days (0 when objects are not locked). */
  wormSettings(): {mode?: string; days: number}
  retention(kind: Kind, id: Id, options?: CallOptions): Promise<Retention>
  /** Retains objects until at least `until` (ms since the epoch); never shortens a retention. */
  extendRetention(kind: Kind, ids: Id[], until: number, options?: CallOptions): Promise<void>
}
