// Benchmark aid (not a test): runs a command, reads /proc/PID/smaps every 100 ms, and prints at
// the peak of its RSS where the resident memory is, by kind of mapping: file-backed (node and
// its native modules), glibc's main arena ([heap]), glibc's thread arenas (64 MiB-aligned
// reservations: one per thread that allocated, the chunking workers' buffers among them; each
// listed), anonymous mappings under 1 MiB (mostly the V8 heaps' pages) and larger ones (buffers
// above the mmap threshold). The command must be the process itself (node …), not a wrapper.
//
//   node test/bench/smaps-peak.mjs node bin/run.js at REPO backup DIR
import {spawn} from 'node:child_process'
import {readFileSync} from 'node:fs'

const [command, ...args] = process.argv.slice(2)
if (!command) {
  console.error('usage: node test/bench/smaps-peak.mjs COMMAND [ARG...]')
  process.exit(2)
}
const child = spawn(command, args, {stdio: ['ignore', 'ignore', 'inherit']})
const started = Date.now()
let peak

function parse(text) {
  const maps = []
  let current
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line)
    if (m) {
      current = {start: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[2]}`), perm: m[3], name: m[4], rss: 0}
      maps.push(current)
      continue
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line)
    if (rss && current) current.rss = Number(rss[1])
  }
  return maps
}

const ARENA = 64n << 20n
function classify(maps) {
  const kinds = new Map()
  const arenas = []
  const add = (kind, kb) => kinds.set(kind, (kinds.get(kind) ?? 0) + kb)
  maps.forEach((m, i) => {
    if (m.rss === 0) return
    if (m.name.startsWith('/')) return add('file-backed', m.rss)
    if (m.name === '[heap]') return add('[heap]: glibc main arena', m.rss)
    if (m.name) return add(m.name, m.rss)
    // A thread arena: its used part, then the rest of its 64 MiB reserved without access.
    const next = maps[i + 1]
    const reserved = next && next.start === m.end && next.perm === '---p' && !next.name ? next.end - next.start : 0n
    if (m.start % ARENA === 0n && m.end - m.start + reserved === ARENA) {
      arenas.push(m.rss)
      return add('glibc thread arenas', m.rss)
    }
    add(m.end - m.start >= 1n << 20n ? 'anonymous, 1 MiB or more' : 'anonymous, under 1 MiB (V8 heap pages)', m.rss)
  })
  return {kinds, arenas}
}

const timer = setInterval(() => {
  try {
    const maps = parse(readFileSync(`/proc/${child.pid}/smaps`, 'utf8'))
    const total = maps.reduce((n, m) => n + m.rss, 0)
    if (!peak || total > peak.total) peak = {total, at: Date.now() - started, maps}
  } catch {
    // The process has just exited.
  }
}, 100)

child.on('exit', (code) => {
  clearInterval(timer)
  if (!peak) return console.log(`exit ${code}; no sample`)
  const MiB = (kb) => (kb / 1024).toFixed(1).padStart(7)
  const {kinds, arenas} = classify(peak.maps)
  console.log(`exit ${code}; peak ${MiB(peak.total).trim()} MiB at ${(peak.at / 1000).toFixed(1)} s`)
  for (const [kind, kb] of [...kinds].sort((a, b) => b[1] - a[1])) console.log(`${MiB(kb)} MiB  ${kind}`)
  console.log(`  thread arenas, MiB each: ${arenas.sort((a, b) => b - a).map((kb) => Math.round(kb / 1024)).join(' ')}`)
  process.exitCode = code ?? 1
})
