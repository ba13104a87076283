import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {randomBytes} from 'node:crypto'
import Database from 'better-sqlite3'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {emptyDelta, type StateDelta} from '../../src/format/state.js'
import {LocalCache} from '../../src/repository/cache.js'

/** What the lost-packfile check read before packfiles.blob_end: the end of each live packfile's last blob, from the blobs. */
function endsFromBlobs(cache: LocalCache): Map<string, number> {
  const rows = cache.db
    .prepare('SELECT p.id AS id, max(b.offset + b.length) AS end FROM packfiles p JOIN blobs b ON b.pack = p.n WHERE p.deleted = 0 AND p.marked = 0 GROUP BY p.n')
    .all() as {id: string; end: number}[]
  return new Map(rows.map((r) => [r.id, r.end]))
}

function delta(packs: {id: string; blobs: [offset: number, length: number][]}[], change: (d: StateDelta) => void = () => {}): StateDelta {
  const d = emptyDelta('test')
  for (const p of packs) d.packfiles.push({id: p.id, kind: 'data', blobs: p.blobs.map(([offset, length]) => [1, randomBytes(32), offset, length, length])})
  change(d)
  return d
}

describe('the local cache: where each packfile ends', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'plakar-cache-'))
  })
  afterEach(() => rmSync(dir, {recursive: true, force: true}))

  it('is the end of its last indexed blob, whatever the order and number of the states naming it; deleted and marked packfiles are left out', () => {
    const cache = new LocalCache(join(dir, 'cache.db'))
    cache.applyStates([
      {id: 's1', delta: delta([{id: 'a', blobs: [[0, 100], [100, 400]]}, {id: 'b', blobs: [[0, 7]]}])},
      // A compaction names a packfile again; another state names one more blob of it, before its end.
      {id: 's2', delta: delta([{id: 'a', blobs: [[0, 100]]}, {id: 'c', blobs: [[0, 10], [10, 20]]}])},
    ])
    cache.applyState('s3', delta([{id: 'c', blobs: [[30, 5]]}, {id: 'd', blobs: [[0, 9]]}, {id: 'e', blobs: [[0, 3]]}]))
    expect(cache.packfileEnds()).toEqual(new Map([['a', 500], ['b', 7], ['c', 35], ['d', 9], ['e', 3]]))
    cache.applyState('s4', delta([], (d) => {
      d.deletedPackfiles.push('b')
      d.markedPackfiles.push({id: 'd', time: 1})
    }))
    expect(cache.packfileEnds()).toEqual(new Map([['a', 500], ['c', 35], ['e', 3]]))
    expect(cache.packfileEnds()).toEqual(endsFromBlobs(cache))
    // One packfile's end, as the blob reader asks it, deleted or marked as well; 0 when unknown.
    expect(['a', 'b', 'c', 'd', 'e', 'x'].map((id) => cache.packfileEnd(id))).toEqual([500, 7, 35, 9, 3, 0])
    cache.close()
  })

  /**
   * A cache of state s1 as an older schema wrote it (`downgrade` undoes what came since), and
   * what its packfile "a" listed.
   */
  const olderCache = (version: number, downgrade: string) => {
    const path = join(dir, 'cache.db')
    const cache = new LocalCache(path)
    cache.applyState('s1', delta([{id: 'a', blobs: [[0, 100], [100, 400]]}, {id: 'b', blobs: [[0, 7]]}]))
    const listed = cache.blobListOfPack('a')
    cache.close()
    const db = new Database(path)
    db.exec(downgrade)
    db.pragma(`user_version = ${version}`)
    db.close()
    return {path, listed}
  }
  /** Version 7's blobs_by_pack: (pack) and the primary key only. */
  const INDEX_7 = 'DROP INDEX blobs_by_pack; CREATE INDEX blobs_by_pack ON blobs(pack);'
  /** Listing a packfile's blobs reads the index alone, with no search of the table per row. */
  const expectCoveringIndex = (cache: LocalCache) => {
    const plan = cache.db
      .prepare('EXPLAIN QUERY PLAN SELECT lower(hex(b.mac)), b.type, b.offset, b.length FROM blobs b WHERE b.pack = 1')
      .all()
      .map((r) => (r as {detail: string}).detail)
    expect(plan).toEqual(['SEARCH b USING COVERING INDEX blobs_by_pack (pack=?)'])
    expect(cache.db.pragma('user_version', {simple: true})).toBe(8)
  }

  it('is computed from the blobs when a cache of schema 6 opens, which keeps its states', () => {
    // Version 6 had no blob_end column either.
    const {path} = olderCache(6, `${INDEX_7} ALTER TABLE packfiles DROP COLUMN blob_end`)
    const reopened = new LocalCache(path)
    expect(reopened.knownStates()).toEqual(new Set(['s1']))
    expectCoveringIndex(reopened)
    expect(reopened.packfileEnds()).toEqual(new Map([['a', 500], ['b', 7]]))
    reopened.applyState('s2', delta([{id: 'b', blobs: [[7, 8]]}]))
    expect(reopened.packfileEnds()).toEqual(new Map([['a', 500], ['b', 15]]))
    expect(reopened.packfileEnds()).toEqual(endsFromBlobs(reopened))
    reopened.close()
  })

  it('rebuilds blobs_by_pack as a covering index when a cache of schema 7 opens, which keeps its states', () => {
    const {path, listed} = olderCache(7, INDEX_7)
    const reopened = new LocalCache(path)
    expect(reopened.knownStates()).toEqual(new Set(['s1']))
    expect(reopened.blobListOfPack('a')).toEqual(listed)
    expectCoveringIndex(reopened)
    reopened.close()
  })
})
