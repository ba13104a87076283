import {PlakarError, readAll} from '@plakar/sdk'
import type {CallOptions, S3Session} from './session.js'

/** A key of a listing made with EncodingType=url (AWS writes spaces as "+", radosgw as %20). */
export function decodeListedKey(key: string, encoding: string | undefined): string {
  if (encoding !== 'url') return key
  return decodeURIComponent(key.replace(/\+/g, '%20'))
}

export interface ListedObject {
  /** The key, decoded. */
  key: string
  size: number
  etag?: string
  lastModified?: Date
}

export interface ListedPage {
  objects: ListedObject[]
  /** Where the next page starts; undefined on the last page. */
  next?: string
}

/** One value of the parsed XML: a lone element is an object, repeated ones an array. */
function many<T>(value: T | T[] | undefined): T[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value]
}

interface ListBucketResult {
  Contents?: RawContents | RawContents[]
  IsTruncated?: string
  NextContinuationToken?: string
  EncodingType?: string
}

interface RawContents {
  Key?: string
  Size?: string
  ETag?: string
  LastModified?: string
}

/**
 * One page of ListObjectsV2 under `prefix`, over the wire (keys url-encoded by the server, so
 * that any byte of a key survives the XML).
 */
export async function listPage(
  session: S3Session,
  what: string,
  request: {prefix: string; token?: string; maxKeys?: number},
  options: CallOptions = {},
): Promise<ListedPage> {
  const [{body}, {parseXML}] = await Promise.all([
    session.send(
      what,
      {
        method: 'GET',
        query: {
          'list-type': '2',
          prefix: request.prefix,
          'continuation-token': request.token,
          'max-keys': request.maxKeys === undefined ? undefined : String(request.maxKeys),
          'encoding-type': 'url',
        },
      },
      options,
    ),
    import('@aws-sdk/xml-builder'),
  ])
  const text = (await readAll(body)).toString('utf8')
  const result = (parseXML(text) as {ListBucketResult?: ListBucketResult}).ListBucketResult ?? {}
  const objects = many(result.Contents).map((raw) => {
    const object: ListedObject = {key: decodeListedKey(raw.Key ?? '', result.EncodingType), size: Number(raw.Size ?? 0)}
    if (raw.ETag) object.etag = raw.ETag
    if (raw.LastModified) object.lastModified = new Date(raw.LastModified)
    return object
  })
  if (result.IsTruncated !== 'true') return {objects}
  // Stopping here would take a partial listing for the whole (and, say, packfiles for missing).
  if (!result.NextContinuationToken) throw new PlakarError(`${what}: ${session.settings.endpoint} sent a truncated listing without a continuation token`)
  return {objects, next: result.NextContinuationToken}
}
