// Benchmark (not a test): the cost per MAC of locating chunks in a repository's local cache, one
// query per MAC (LocalCache.locate) against batches (LocalCache.locateAll), as a restore's
// fetch does it (hex keys, duplicates dropped):
//   node test/bench/locate-batch.mjs CACHE.sqlite [BATCH=256] [MACS=60000]
// Use a copy of a real cache (…/repositories/<id>/cache.sqlite after a backup of a corpus).
import {LocalCache} from '../../core/engine/dist/repository/cache.js'

const [path, batchArg = '256', countArg = '60000'] = process.argv.slice(2)
if (!path) throw new Error('usage: node test/bench/locate-batch.mjs CACHE.sqlite [BATCH] [MACS]')
const cache = new LocalCache(path)
const B = Number(batchArg)
const macs = cache.db.prepare('SELECT mac FROM blobs WHERE type = 1').pluck().all()
// A random order: a restore's chunks are not in the index's order.
for (let i = macs.length - 1; i > 0; i--) {
  const j = Math.floor(Math.random() * (i + 1))
  ;[macs[i], macs[j]] = [macs[j], macs[i]]
}
const sample = macs.slice(0, Number(countArg))
for (let round = 0; round < 3; round++) {
  let t = performance.now()
  for (const mac of sample) {
    mac.toString('hex')
    cache.locate(1, mac)
  }
  const one = ((performance.now() - t) * 1000) / sample.length
  t = performance.now()
  for (let at = 0; at < sample.length; at += B) {
    const unique = new Map()
    for (const mac of sample.slice(at, at + B)) unique.set(mac.toString('hex'), mac)
    cache.locateAll(1, [...unique.values()])
  }
  const batched = ((performance.now() - t) * 1000) / sample.length
  console.log(`${sample.length} of ${macs.length} chunks, batches of ${B}: ${one.toFixed(2)} µs per MAC one by one, ${batched.toFixed(2)} µs in batches`)
}
cache.close()
