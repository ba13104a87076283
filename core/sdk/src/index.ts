/**
 * @plakar/sdk — the contract between plakar and its plugins: the connector interfaces, the error
 * shape that crosses packages, and small helpers. No native or third-party dependency: a plugin
 * installs it in seconds, and plakar's own engine and CLI build on the same package.
 */
export type * from './interfaces/index.js'
export {CONTRACT_VERSION, isColdStorage, isScanError, isWormStorage, KINDS} from './contract.js'
export {
  AuthError,
  ColdObjectError,
  exitCodeOf,
  ExitCode,
  FormatTooNewError,
  IntegrityError,
  isColdObject,
  isFatal,
  isNotFound,
  isRetained,
  markFatal,
  messageOf,
  NotFoundError,
  ObjectNotFoundError,
  PlakarError,
  RetainedObjectError,
  UsageError,
} from './errors.js'
export {childSignal, onAbort} from './abort.js'
export {destroyOnAbort, readableFrom, readAll} from './streams.js'
export {abortable, Budget, mapConcurrent, TaskPool} from './concurrency.js'
export {delay, isTransientNetworkError, withRetry, type RetryOptions} from './retry.js'
export {
  bufferRecord,
  directoryInfo,
  directoryRecord,
  entryTypeOf,
  fileInfoFromObject,
  fileInfoFromStats,
  streamRecord,
  toMillis,
  type ObjectHead,
} from './file-info.js'
export {
  configSchema,
  option,
  secretOptions,
  type ConfigOf,
  type ConfigSchema,
  type NumberOptions,
  type OptionSchema,
  type StringOptions,
} from './config-schema.js'
export {localPathInside, parentPath, pathComponents} from './paths.js'
export {
  checkObjectId,
  CONFIG_NAME,
  idFromListedKey,
  isObjectId,
  isShardName,
  isSharded,
  kindDirectory,
  objectDirectory,
  objectKey,
} from './layout.js'
