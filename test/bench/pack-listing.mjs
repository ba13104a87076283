// Benchmark aid (not a test): times check's listing of every packfile's blobs (the query of
// LocalCache.blobListOfPack) on a copy of a client cache, and shows SQLite's plan for it. Run
// it on a copy: opening a cache with plakar migrates it.
//
//   cp ~/.cache/plakar/repositories/ID/cache.sqlite /tmp/c.sqlite && node test/bench/pack-listing.mjs /tmp/c.sqlite
import Database from 'better-sqlite3'

const file = process.argv[2]
if (!file) {
  console.error('usage: node test/bench/pack-listing.mjs CACHE.sqlite [PASSES]')
  process.exit(2)
}
const db = new Database(file, {readonly: true})
const packs = db.prepare('SELECT id FROM packfiles WHERE deleted = 0').pluck().all()
const sql = 'SELECT lower(hex(b.mac)), b.type, b.offset, b.length FROM blobs b WHERE b.pack = (SELECT n FROM packfiles WHERE id = ?)'
console.log(`schema ${db.pragma('user_version', {simple: true})}; plan: ${db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all('').map((r) => r.detail).join(' | ')}`)
const list = db.prepare(sql).raw(true)
for (let pass = 0; pass < Number(process.argv[3] ?? 3); pass++) {
  const started = performance.now()
  let rows = 0
  for (const pack of packs) rows += list.all(pack).length
  console.log(`${packs.length} packfiles, ${rows} blobs listed in ${(performance.now() - started).toFixed(0)} ms`)
}
