// How big should a chunk row be? Writes 16 MiB objects (the engine's packfile size) and reads
// them back whole and by 64 KiB ranges, for several chunk and page sizes.
// Usage: npm run build && node plugins/sqlite/bench/chunk-size.mjs [total MiB, default 512]
import {mkdtempSync, rmSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {randomBytes} from 'node:crypto'
import {SqliteStorage} from '../dist/storage.js'

const MiB = 1024 * 1024
const total = Number(process.argv[2] ?? 512) * MiB
const objectSize = 16 * MiB
const payload = randomBytes(objectSize)
const idOf = (i) => i.toString(16).padStart(64, '0')
// The engine hands puts a stream of ~1 MiB parts.
const parts = (buf) => Readable.from(Array.from({length: Math.ceil(buf.length / MiB)}, (_, i) => buf.subarray(i * MiB, (i + 1) * MiB)))
const drain = async (s) => { let n = 0; for await (const b of s) n += b.length; return n }

console.log('chunk    page   write MB/s  read MB/s  64K-range ms  file MiB')
for (const pageSize of [4096, 65536]) {
  for (const chunkSize of [64 * 1024, 256 * 1024, MiB, 4 * MiB]) {
    const dir = mkdtempSync(join(tmpdir(), 'sqlite-chunk-bench-'))
    const file = join(dir, 'r.db')
    const st = new SqliteStorage(file, {chunkSize, pageSize})
    await st.create(new Uint8Array([1]))
    const n = total / objectSize
    let t = performance.now()
    for (let i = 0; i < n; i++) await st.put('packfile', idOf(i), parts(payload), objectSize)
    const write = total / MiB / ((performance.now() - t) / 1000)
    t = performance.now()
    for (let i = 0; i < n; i++) await drain(await st.get('packfile', idOf(i)))
    const read = total / MiB / ((performance.now() - t) / 1000)
    const ranges = 2000
    t = performance.now()
    for (let r = 0; r < ranges; r++) {
      const offset = Math.floor(Math.random() * (objectSize - 65536))
      await drain(await st.get('packfile', idOf(r % n), {offset, length: 65536}))
    }
    const rangeMs = (performance.now() - t) / ranges
    await st.close()
    const size = statSync(file).size / MiB
    console.log(`${String(chunkSize / 1024).padStart(5)}K ${String(pageSize / 1024).padStart(5)}K ${write.toFixed(0).padStart(10)} ${read.toFixed(0).padStart(10)} ${rangeMs.toFixed(3).padStart(13)} ${size.toFixed(0).padStart(9)}`)
    rmSync(dir, {recursive: true})
  }
}
