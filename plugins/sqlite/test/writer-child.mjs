// One of the writer processes of concurrency.test.ts: puts objects into a shared database,
// some with ids the other process puts too (same id, same bytes), and reads them back.
// argv: <db file> <name> <count> <shared count>
import {createCipheriv, createHash} from 'node:crypto'
import {Readable} from 'node:stream'
import {SqliteStorage} from '../dist/storage.js'

const [file, name, count, shared] = [process.argv[2], process.argv[3], Number(process.argv[4]), Number(process.argv[5])]

/** Deterministic bytes for an id: both processes and the test agree on them. */
export function contentOf(id) {
  const size = parseInt(id.slice(0, 6), 16) % (3 * 1024 * 1024)
  const key = createHash('sha256').update(id).digest()
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(size))
}
export const idOf = (tag, i) => createHash('sha256').update(`${tag}:${i}`).digest('hex')

if (file) {
  const storage = new SqliteStorage(file, {chunkSize: 256 * 1024})
  const ids = []
  for (let i = 0; i < count; i++) ids.push(i < shared ? idOf('shared', i) : idOf(name, i))
  let next = 0
  const worker = async () => {
    while (next < ids.length) {
      const id = ids[next++]
      const data = contentOf(id)
      // Several parts per object: the put streams, interleaving with the other process.
      const parts = []
      for (let o = 0; o < data.length; o += 100_000) parts.push(data.subarray(o, o + 100_000))
      await storage.put('packfile', id, Readable.from(parts), data.length)
      const back = []
      for await (const b of await storage.get('packfile', id)) back.push(b)
      if (!Buffer.concat(back).equals(data)) throw new Error(`${name}: ${id} read back differs`)
    }
  }
  await Promise.all([worker(), worker(), worker(), worker()])
  await storage.close()
  process.stdout.write(`${name} done\n`)
}
