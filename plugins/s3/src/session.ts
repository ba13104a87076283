import type {ConnectorContext} from '@plakar/sdk'
import {parseBucketLocation, S3Session, type BucketLocation} from '@plakar/s3-client'
import {settingsFor, type S3Config, type S3Settings} from './options.js'

export type Session = S3Session<S3Settings>

/** Parses `s3://host[:port]/bucket[/prefix]`. */
export function parseS3Location(location: string): BucketLocation {
  return parseBucketLocation(location, 's3')
}

/** The session of a connector given an s3:// location and the s3 options. */
export async function openSession(context: ConnectorContext): Promise<Session> {
  const location = parseS3Location(context.location)
  return S3Session.open(location, settingsFor(location, context.config as S3Config), context.logger)
}
