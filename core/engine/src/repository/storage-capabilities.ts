import {type Storage, UsageError} from '@plakar/sdk'

/**
 * The engine's reading of a storage's declared capabilities (StorageCapabilities in the SDK):
 * said once, at the start of a command, in one line, instead of a permission error from the
 * storage halfway through the work.
 */

/** Every command that writes (a lock, a packfile, a state, the config) calls this first. */
export function requireWritable(storage: Storage, action: string): void {
  if (storage.capabilities().write) return
  throw new UsageError(`${storage.location} is read-only (its storage does not write), so it cannot ${action}: use a location with write access`)
}

/**
 * Maintenance frees space by deleting packfiles and states: on an append-only storage it could
 * only mark and add, so it refuses before changing anything.
 */
export function requireDeletable(storage: Storage, action: string): void {
  if (storage.capabilities().delete) return
  throw new UsageError(
    `${storage.location} does not delete objects (an append-only storage), so it cannot ${action}: run it with credentials that may delete`,
  )
}
