// Per-thread CPU of one command (not a test):
//   node test/bench/thread-cpu.mjs node BUILD/bin/run.js … backup …
// runs it, samples /proc/PID/task/*/stat every 20 ms to its end and prints the CPU (user + sys, s)
// of each thread, grouped by thread name (the main thread is the one whose id is the PID; the
// workers are named after the process title, V8 and libuv threads "node"): JavaScript profiles
// count a thread as busy while it waits or is not scheduled, this does not.
import {spawn} from 'node:child_process'
import fs from 'node:fs'
const [cmd, ...args] = process.argv.slice(2)
const child = spawn(cmd, args, {stdio: ['ignore', 'ignore', 'inherit']})
const pid = child.pid
const tick = 100 // USER_HZ
const seen = new Map()
const sample = () => {
  let tids
  try { tids = fs.readdirSync(`/proc/${pid}/task`) } catch { return }
  for (const tid of tids) {
    try {
      const s = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
      const name = s.slice(s.indexOf('(') + 1, s.lastIndexOf(')'))
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ')
      seen.set(tid, {name, cpu: (Number(f[11]) + Number(f[12])) / tick})
    } catch {}
  }
}
const timer = setInterval(sample, 20)
child.on('exit', () => {
  clearInterval(timer)
  const groups = new Map()
  let total = 0
  for (const [tid, {name, cpu}] of seen) {
    const key = Number(tid) === pid ? 'main' : name
    const g = groups.get(key) ?? {n: 0, cpu: 0}
    g.n++; g.cpu += cpu; total += cpu
    groups.set(key, g)
  }
  console.log([...groups].sort((a, b) => b[1].cpu - a[1].cpu).map(([k, g]) => `${k}${g.n > 1 ? `×${g.n}` : ''} ${g.cpu.toFixed(2)}`).join(', ') + `; total ${total.toFixed(2)}`)
})
