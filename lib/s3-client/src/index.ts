/**
 * @plakar/s3-client: the S3 client the first-party S3 connectors share (plugins/s3 and
 * plugins/glacier): sessions with bounded concurrency, retries and one-line errors, resumable
 * reads, atomic multipart writes, the frequent requests signed and sent without the AWS SDK, locations and connection options, and the repository layout
 * of a storage in a bucket. It depends on @plakar/sdk and the AWS SDK only.
 */
export {BucketStorage} from './bucket-storage.js'
export {connectionSettings, type ConnectionConfig, type ConnectionSettings} from './connection.js'
export {openObject, type ReadOptions} from './download.js'
export {codeOf, isAuthFailure, isMissingObject, isNoSuchBucket, isTransient, statusOf, translate, type ErrorContext} from './errors.js'
export {Limiter} from './limiter.js'
export {decodeListedKey, listPage, type ListedObject, type ListedPage} from './listing.js'
export {formatBucketLocation, parseBucketLocation, type BucketLocation} from './location.js'
export {describeBriefly, loadSdk, S3Session, type CallOptions, type SdkModule} from './session.js'
export {DEFAULT_PART_SIZE, MAX_SINGLE_PUT, MIN_PART_SIZE, partSizeFor, putObject, type PutObjectOptions} from './upload.js'
export {objectHead, S3ResponseError, type ObjectHead, type WireRequest, type WireResponse} from './wire.js'
