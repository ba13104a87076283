// What starting and ending worker threads does to a process's resident memory, against the same
// work on the main thread (the agent's question, issue 17: runs in the agent's process started
// and ended decoding and chunking workers with each repository). A cycle is two workers started,
// each compressing and decompressing 8 MiB with the engine's Compressor (zstd), and ended; or
// the same work inline. Prints the RSS floor (lowest after a cycle) over each tenth of the run.
//
//   npm run build && node test/bench/worker-churn.mjs workers|inline [CYCLES=300]
import {randomBytes} from 'node:crypto'
import {isMainThread, parentPort, Worker} from 'node:worker_threads'
import {Compressor} from '../../core/engine/dist/format/compression.js'

function work() {
  const c = new Compressor({algorithm: 'zstd', level: 3})
  let n = 0
  for (let i = 0; i < 16; i++) {
    const data = Buffer.concat([randomBytes(256 * 1024), Buffer.alloc(256 * 1024, i)])
    const {codec, bytes} = c.compress(data)
    n += c.decompress(codec, bytes).length
  }
  return n
}

if (!isMainThread) {
  parentPort.postMessage(work())
} else {
  const [mode = 'workers', cyclesArg = '300'] = process.argv.slice(2)
  const cycles = Number(cyclesArg)
  const rss = []
  for (let i = 0; i < cycles; i++) {
    if (mode === 'workers') {
      await Promise.all(
        [0, 1].map(
          () =>
            new Promise((resolve, reject) => {
              const w = new Worker(new URL(import.meta.url), {resourceLimits: {maxYoungGenerationSizeMb: 4}})
              w.once('message', () => w.terminate().then(resolve))
              w.once('error', reject)
            }),
        ),
      )
    } else {
      work()
      work()
    }
    await new Promise((r) => setTimeout(r, 20))
    rss.push(process.memoryUsage().rss / 1048576)
  }
  const tenth = Math.max(1, Math.floor(cycles / 10))
  const floors = []
  for (let k = tenth; k <= cycles; k += tenth) floors.push(`${k}: ${Math.round(Math.min(...rss.slice(k - tenth, k)))}`)
  console.log(`${mode}, ${cycles} cycles: RSS floor (MiB) by cycle ${floors.join(', ')}`)
}
