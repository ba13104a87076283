import type {Id, Kind} from './interfaces/storage.js'
import {PlakarError} from './errors.js'

/**
 * How a repository's objects are named under a storage root, for every storage that keeps them
 * as named files or keys (a directory, a bucket prefix, an SFTP directory):
 *
 *   CONFIG
 *   packfiles/<first two hex digits of the id>/<id>
 *   states/<id>
 *   locks/<id>
 *
 * Packfiles are sharded because a repository holds hundreds of thousands of them (a directory
 * listing or a key prefix stays small enough to read in one go); states and locks are few.
 * Names are '/'-separated and relative to the root: a storage joins them to its own root (a
 * directory, `bucket/prefix/`). Keeping this in one place keeps the fs, S3 and SFTP layouts the
 * same, so a repository copied byte for byte between them (rsync, rclone) opens as is.
 */
export const CONFIG_NAME = 'CONFIG'

const DIRECTORIES: Readonly<Record<Kind, string>> = {packfile: 'packfiles', state: 'states', lock: 'locks'}
const ID = /^[0-9a-f]{16,128}$/
const SHARD = /^[0-9a-f]{2}$/

/** Whether `id` is an object id: 16 to 128 lowercase hex digits. */
export function isObjectId(id: string): boolean {
  return ID.test(id)
}

/** The id itself; throws for anything else, so that no name can leave its directory. */
export function checkObjectId(id: string): Id {
  if (!ID.test(id)) throw new PlakarError(`invalid object id "${id}"`)
  return id
}

/** The directory of one kind of object: "packfiles", "states", "locks". */
export function kindDirectory(kind: Kind): string {
  const dir = DIRECTORIES[kind]
  if (dir === undefined) throw new PlakarError(`unknown object kind "${kind}"`)
  return dir
}

/** Whether objects of `kind` sit one directory deeper, in a shard named by their id's first two digits. */
export function isSharded(kind: Kind): boolean {
  return kind === 'packfile'
}

/** The directory an object sits in: "packfiles/ab", "states". */
export function objectDirectory(kind: Kind, id: Id): string {
  checkObjectId(id)
  return isSharded(kind) ? `${kindDirectory(kind)}/${id.slice(0, 2)}` : kindDirectory(kind)
}

/** An object's name under the root: "packfiles/ab/ab12…", "states/…". Throws for an invalid id. */
export function objectKey(kind: Kind, id: Id): string {
  return `${objectDirectory(kind, id)}/${id}`
}

/** Whether `name` is a shard directory of a sharded kind ("00" to "ff"). */
export function isShardName(name: string): boolean {
  return SHARD.test(name)
}

/**
 * The id named by a listed key, given relative to the kind's directory ("ab/ab12…" for a
 * packfile, "ab12…" for a state); undefined for anything else (temporary files, strays, a
 * packfile in the wrong shard), which listings skip.
 */
export function idFromListedKey(kind: Kind, relative: string): Id | undefined {
  const parts = relative.split('/')
  const id = parts.at(-1)!
  if (!ID.test(id)) return undefined
  if (isSharded(kind)) return parts.length === 2 && parts[0] === id.slice(0, 2) ? id : undefined
  return parts.length === 1 ? id : undefined
}
