// Preload for a plakar run (node --require test/bench/mem-sampler.cjs …): every SAMPLE_MS
// (default 200) milliseconds, each thread (the main thread and every worker: Node runs preloads
// in workers too) appends one JSON line to $PLAKAR_MEM_LOG with its thread id, the process RSS,
// and its own isolate's V8 heap (used and total), external and ArrayBuffer bytes. What RSS holds
// beyond the sum of the isolates is native memory: SQLite, zstd, the allocator's free lists.
// Child processes started with the same Node options (the agent's task processes) sample into
// the same log; each line has its pid, and `t` counts from that process's start.
//
// Summarize a log by thread and time:
//   node test/bench/mem-sampler.cjs LOG.jsonl [STEP_MS]
const fs = require('node:fs')
const {isMainThread, threadId} = require('node:worker_threads')

const MiB = (x) => (x / 1048576).toFixed(0)

if (require.main === module) {
  const [file, step = '1000'] = process.argv.slice(2)
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l))
  const byTime = new Map()
  for (const l of lines) {
    const slot = Math.floor(l.t / Number(step)) * Number(step)
    if (!byTime.has(slot)) byTime.set(slot, new Map())
    byTime.get(slot).set(l.tid, l)
  }
  const peak = lines.reduce((a, b) => (b.rss > a.rss ? b : a))
  console.log(`peak RSS ${MiB(peak.rss)} MiB at ${(peak.t / 1000).toFixed(1)} s; per thread: heap used/total, external, ArrayBuffers (MiB)`)
  for (const [t, threads] of [...byTime].sort((a, b) => a[0] - b[0])) {
    const cells = [...threads.values()].sort((a, b) => a.tid - b.tid).map((l) => `t${l.tid} ${MiB(l.heapUsed)}/${MiB(l.heapTotal)} x${MiB(l.external)} ab${MiB(l.arrayBuffers)}`)
    console.log(`${(t / 1000).toFixed(1).padStart(6)} s  rss ${MiB(Math.max(...[...threads.values()].map((l) => l.rss))).padStart(4)}  ${cells.join('  ')}`)
  }
} else if (process.env.PLAKAR_MEM_LOG) {
  const out = process.env.PLAKAR_MEM_LOG
  const t0 = Date.now()
  const sample = () => {
    const m = process.memoryUsage()
    const line = {t: Date.now() - t0, pid: process.pid, tid: threadId, main: isMainThread, rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers}
    fs.appendFileSync(out, JSON.stringify(line) + '\n')
  }
  setInterval(sample, Number(process.env.SAMPLE_MS ?? 200)).unref()
  if (isMainThread) process.on('exit', sample)
}
