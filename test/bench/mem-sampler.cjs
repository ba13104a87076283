// Preload for a plakar run (node --require test/bench/mem-sampler.cjs …): every 200 ms, appends
// one JSON line to $PLAKAR_MEM_LOG with the process RSS and the main thread's V8 heap, external
// and ArrayBuffer bytes, and the number of threads. RSS minus the main thread's share is what the
// worker threads, native libraries (SQLite, zstd) and the allocator hold.
const fs = require('node:fs')
const {isMainThread} = require('node:worker_threads')
const out = process.env.PLAKAR_MEM_LOG
if (out && isMainThread) {
  const t0 = Date.now()
  const sample = () => {
    const m = process.memoryUsage()
    let threads = 0
    try {
      threads = fs.readdirSync('/proc/self/task').length
    } catch {}
    fs.appendFileSync(out, JSON.stringify({t: Date.now() - t0, rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, threads}) + '\n')
  }
  setInterval(sample, 200).unref()
  process.on('exit', sample)
}
