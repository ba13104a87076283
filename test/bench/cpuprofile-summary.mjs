// Summarizes V8 CPU profiles (node --cpu-prof) of one plakar run: where the samples fall.
//
//   node test/bench/cpuprofile-summary.mjs DIR_OR_FILES... [--top 25]
//
// For each profile (one per thread: the main thread and every worker) prints its duration, the
// share of idle time (the thread waiting: I/O, locks, an empty queue), garbage collection, and the
// top functions by self time and by inclusive time, with their file (node: internals, the
// package a dependency comes from, or the plakar source file).
import fs from 'node:fs'
import path from 'node:path'
import {parseArgs} from 'node:util'

const {values, positionals} = parseArgs({options: {top: {type: 'string', default: '25'}}, allowPositionals: true})
const top = Number(values.top)
const files = positionals.flatMap((p) =>
  fs.statSync(p).isDirectory() ? fs.readdirSync(p).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(p, f)) : [p],
)

const where = (url) => {
  if (!url) return ''
  if (url.startsWith('node:')) return url
  const nm = url.lastIndexOf('/node_modules/')
  if (nm >= 0) return url.slice(nm + 14).split('/').slice(0, url.slice(nm + 14).startsWith('@') ? 2 : 1).join('/')
  const m = /\/(core|plugins\/[^/]+)\/dist\/(.*)$/.exec(url)
  return m ? `${m[1]}/${m[2]}` : url.replace(/^file:\/\//, '')
}

for (const file of files) {
  const prof = JSON.parse(fs.readFileSync(file, 'utf8'))
  const byId = new Map(prof.nodes.map((n) => [n.id, n]))
  const parent = new Map()
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const self = new Map() // node id -> µs
  prof.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)))
  const total = [...self.values()].reduce((a, b) => a + b, 0)
  const key = (n) => `${n.callFrame.functionName || '(anonymous)'}  ${where(n.callFrame.url)}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ''}`
  const selfBy = new Map()
  const inclBy = new Map()
  for (const [id, us] of self) {
    const n = byId.get(id)
    selfBy.set(key(n), (selfBy.get(key(n)) ?? 0) + us)
    // inclusive: count once per distinct function on the stack
    const seen = new Set()
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const k = key(byId.get(cur))
      if (seen.has(k)) continue
      seen.add(k)
      inclBy.set(k, (inclBy.get(k) ?? 0) + us)
    }
  }
  const pct = (us) => `${((100 * us) / total).toFixed(1).padStart(5)} %`
  const special = (name) => [...selfBy].filter(([k]) => k.startsWith(`${name} `)).reduce((a, [, v]) => a + v, 0)
  console.log(`\n== ${path.basename(file)}: ${(total / 1e6).toFixed(2)} s sampled; idle ${pct(special('(idle)'))}, GC ${pct(special('(garbage collector)'))}, program (native/unattributed) ${pct(special('(program)'))}`)
  const byFile = new Map()
  for (const [k, v] of selfBy) {
    const f = k.split('  ')[1]?.replace(/:\d+$/, '') || k.split('  ')[0]
    byFile.set(f, (byFile.get(f) ?? 0) + v)
  }
  console.log('-- self time by file/package')
  for (const [k, v] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(v)}  ${k}`)
  console.log('-- self time by function')
  for (const [k, v] of [...selfBy].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(v)}  ${k}`)
  console.log('-- inclusive time by function')
  for (const [k, v] of [...inclBy].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${pct(v)}  ${k}`)
}
