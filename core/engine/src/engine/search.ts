import picomatch from 'picomatch'
import {isWithin, pathToKey} from '../tree/path-key.js'
import type {Entry} from '../tree/entry.js'
import type {Snapshot} from './snapshot.js'

export interface SearchQuery {
  /** A glob on file names (case-insensitive); a plain word matches names that contain it. */
  name?: string
  /** A MIME type ("application/pdf") or a prefix of one ("image/", "text"). */
  type?: string
  /** Only paths at or below this directory. */
  within?: string
  /** Resume after this opaque cursor (from a previous page). */
  after?: string
  limit: number
  /** Stop after reading this many index keys, even if the page is not full (bounds one request). */
  budget?: number
}

export interface SearchHit {
  path: string
  entry: Entry
}

export interface SearchPage {
  hits: SearchHit[]
  /** Present when more may follow: pass it back as `after`. */
  next?: string
}

const GLOB = /[*?[\]{}!()+@\\]/

/**
 * Searches a snapshot through the indexes the backup built (names: "lowercased name\0path";
 * types: "content type\0path"), one page at a time: the scan resumes after the last key read,
 * so nothing is held between pages and a search over 300,000 files returns its first page as
 * soon as it is full. A name search with a literal prefix ("report*") scans only that range;
 * a type search scans only keys of that type.
 */
export async function searchSnapshot(snapshot: Snapshot, query: SearchQuery): Promise<SearchPage> {
  const name = query.name?.trim().toLowerCase() || undefined
  const type = query.type?.trim().toLowerCase() || undefined
  const glob = name === undefined ? undefined : GLOB.test(name) ? name : `*${name}*`
  const isMatch = glob === undefined ? () => true : picomatch(glob, {dot: true, nocase: true})
  const withinKey = query.within && query.within !== '/' ? pathToKey(query.within) : undefined
  // The index that narrows the scan most: a name with a literal prefix, else a type, else names.
  const literal = glob === undefined ? '' : /^[^*?[\]{}!()+@\\]*/.exec(glob)![0]
  const byType = type !== undefined && literal === ''
  const tree = byType ? snapshot.types : snapshot.names
  const prefix = Buffer.from(byType ? type : literal)
  let from = prefix
  if (query.after) {
    const resume = Buffer.from(query.after, 'base64url')
    if (Buffer.compare(resume, prefix) > 0) from = Buffer.concat([resume, Buffer.from([0])])
  }
  const to = prefix.length > 0 ? Buffer.concat([prefix, Buffer.from([0xff])]) : undefined
  const hits: SearchHit[] = []
  const budget = query.budget ?? 200_000
  let read = 0
  let lastKey: Buffer | undefined
  for await (const [key] of tree.scan(from, to)) {
    lastKey = Buffer.from(key)
    const sep = lastKey.indexOf(0)
    const left = lastKey.subarray(0, sep).toString('utf8')
    const path = lastKey.subarray(sep + 1).toString('utf8')
    if (withinKey && !isWithin(pathToKey(path), withinKey)) {
      if (++read >= budget) break
      continue
    }
    const fileName = path.slice(path.lastIndexOf('/') + 1)
    if (byType ? isMatch(fileName) : isMatch(left)) {
      const entry = await snapshot.entry(path)
      if (entry && (type === undefined || (entry.info.contentType ?? '').toLowerCase().startsWith(type))) {
        hits.push({path, entry})
        if (hits.length >= query.limit) return {hits, next: lastKey.toString('base64url')}
      }
    }
    if (++read >= budget) return {hits, next: lastKey.toString('base64url')}
  }
  return {hits}
}
