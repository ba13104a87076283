import type {ImportRecord, ScanError} from './interfaces/importer.js'
import type {ColdStorage, Kind, Storage, WormStorage} from './interfaces/storage.js'

/** The contract version this core speaks. A plugin declares the one it was built for. */
export const CONTRACT_VERSION = 1

export const KINDS: readonly Kind[] = ['packfile', 'state', 'lock']

/** Records never carry an `error`; a ScanError may carry the entry's `info` too. */
export function isScanError(item: ImportRecord | ScanError): item is ScanError {
  return typeof (item as ScanError).error === 'string'
}

export function isColdStorage(storage: Storage): storage is ColdStorage {
  const cold = storage as ColdStorage
  return typeof cold.requestRestore === 'function' && typeof cold.restoreStatus === 'function'
}

export function isWormStorage(storage: Storage): storage is WormStorage {
  const worm = storage as WormStorage
  return typeof worm.retention === 'function' && typeof worm.extendRetention === 'function'
}
