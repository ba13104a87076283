/**
 * @plakar/core — the plugin SDK: the connector contracts, the errors connectors throw, and
 * small helpers. The engine and the CLI live in this package too but are not part of the SDK.
 */
export type * from './interfaces/index.js'
export {CONTRACT_VERSION, isColdStorage, isScanError, isWormStorage, KINDS} from './connectors/contract.js'
export {
  AuthError,
  ColdObjectError,
  ExitCode,
  IntegrityError,
  isColdObject,
  isNotFound,
  isRetained,
  NotFoundError,
  ObjectNotFoundError,
  PlakarError,
  RetainedObjectError,
  UsageError,
} from './errors.js'
export {readAll} from './util/streams.js'
export {isTransientNetworkError, withRetry, type RetryOptions} from './util/retry.js'
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
} from './sdk/file-info.js'
export {
  configSchema,
  option,
  secretOptions,
  type ConfigOf,
  type ConfigSchema,
  type NumberOptions,
  type OptionSchema,
  type StringOptions,
} from './sdk/config-schema.js'
export {localPathInside, parentPath, pathComponents} from './sdk/paths.js'
