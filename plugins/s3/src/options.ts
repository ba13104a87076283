import {connectionSettings, type BucketLocation, type ConnectionConfig, type ConnectionSettings} from '@plakar/s3-client'

/** The connector configuration, as validated by schema/*.json (defaults applied by ajv). */
export interface S3Config extends ConnectionConfig {
  storage_class?: string
}

export interface S3Settings extends ConnectionSettings {
  storageClass?: string
}

export function settingsFor(loc: BucketLocation, config: S3Config, env: NodeJS.ProcessEnv = process.env): S3Settings {
  return {...connectionSettings(loc, config, env), storageClass: config.storage_class}
}
