// Preload (node -r) for benchmarks: prints the CPU time of the process's main thread at exit
// ("main-cpu 1234 ms", from /proc/self/task/PID/schedstat), apart from the walk's and the
// workers' threads and V8's helper threads, whose share varies with the load more than its own.
if (require('node:worker_threads').isMainThread) {
  process.on('exit', () => {
    try {
      const ns = Number(require('node:fs').readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0])
      process.stderr.write(`main-cpu ${(ns / 1e6).toFixed(0)} ms\n`)
    } catch {
      // Not Linux: nothing to print.
    }
  })
}
