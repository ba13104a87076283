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

let dir: string
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'plakar-cache-'))
})
afterEach(() => rmSync(dir, {recursive: true, force: true}))

describe('the local cache: where each packfile ends', () => {
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

describe('the local cache: locating many blobs at once', () => {
  it('gives what locate gives for each MAC, in order, across batches: the lowest live packfile, none for a blob only in deleted or marked ones', () => {
    const cache = new LocalCache(join(dir, 'cache.db'))
    const macs = Array.from({length: 300}, () => randomBytes(32))
    const blob = (i: number, offset: number): [number, Buffer, number, number, number] => [1, macs[i], offset, 10 + i, 20 + i]
    const d = emptyDelta('s1')
    // Every blob in "p1"; the first 100 in "p2" too (stored again), the last 50 only in "p3" and "p4".
    d.packfiles.push({id: 'p2', kind: 'data', blobs: macs.slice(0, 100).map((_, i) => blob(i, 1000 + i))})
    d.packfiles.push({id: 'p1', kind: 'data', blobs: macs.slice(0, 250).map((_, i) => blob(i, i))})
    d.packfiles.push({id: 'p3', kind: 'data', blobs: macs.slice(250).map((_, i) => blob(250 + i, 7 * i))})
    d.packfiles.push({id: 'p4', kind: 'data', blobs: macs.slice(250).map((_, i) => blob(250 + i, 9 * i))})
    cache.applyState('s1', d)
    cache.applyState('s2', delta([], (e) => {
      e.deletedPackfiles.push('p2', 'p4')
      e.markedPackfiles.push({id: 'p3', time: 1})
    }))
    const unknown = randomBytes(32)
    // Out of order, repeated, unknown and of another type; more than one batch.
    const asked = [...macs.slice().reverse(), macs[3], unknown, macs[120], macs[260]]
    const expected = asked.map((mac) => cache.locate(1, mac))
    expect(cache.locateAll(1, asked)).toEqual(expected)
    expect(expected.filter((l) => l !== undefined)).toHaveLength(250 + 2)
    expect(expected.at(-1)).toBeUndefined()
    expect(cache.locateAll(2, macs.slice(0, 5))).toEqual([undefined, undefined, undefined, undefined, undefined])
    expect(cache.locateAll(1, [])).toEqual([])
    // Once p1 is deleted, the copies in p2 would serve, but p2 is deleted too.
    cache.applyState('s3', delta([], (e) => e.deletedPackfiles.push('p1')))
    expect(cache.locateAll(1, macs.slice(0, 3))).toEqual([undefined, undefined, undefined])
    cache.close()
  })

  it('takes the lowest live packfile when a blob is in several', () => {
    const cache = new LocalCache(join(dir, 'cache.db'))
    const mac = randomBytes(32)
    const d = emptyDelta('s1')
    for (const id of ['x', 'y', 'z']) d.packfiles.push({id, kind: 'data', blobs: [[1, mac, id.charCodeAt(0), 5, 6]]})
    cache.applyState('s1', d)
    expect(cache.locateAll(1, [mac])).toEqual([cache.locate(1, mac)])
    expect(cache.locateAll(1, [mac])[0]?.pack).toBe('x')
    cache.applyState('s2', delta([], (e) => e.deletedPackfiles.push('x')))
    expect(cache.locateAll(1, [mac])).toEqual([{pack: 'y', offset: 'y'.charCodeAt(0), length: 5, rawLength: 6}])
    expect(cache.locateAll(1, [mac])).toEqual([cache.locate(1, mac)])
    cache.close()
  })
})
