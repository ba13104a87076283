// plakar ui at scale (issue 16, "figures"): on the many-small corpus (300,000 files, 100,000 of
// them in one directory, flat/), one backup, then `plakar ui` as a user runs it, and over HTTP:
// the snapshot list, the root folder (its entry with the stored summary, and the first page of
// its children), the 100,000-entry folder (same), a page deep inside it, every page of it in
// turn (500 pages of 200), a name search and a type search, and the timeline of one file. Each
// request is timed from the client (median of 5 where it repeats); the server's resident memory
// (VmRSS, and VmHWM: its peak) is read from /proc before and after paging through the folder.
//
//   node test/bench/ui.mjs [--plakar bin/run.js] [--dir DIR] [--profile full|tiny] [--out FILE.md] [--keep]
//
// Work files go to DIR/ui-work (DIR as for run.mjs); the corpus is built once by corpus.mjs.
import {spawn, spawnSync} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {createInterface} from 'node:readline'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'
import {ensureSet} from './corpus.mjs'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const ROOT = path.resolve(HERE, '../..')
const {values: opt} = parseArgs({
  options: {
    plakar: {type: 'string'},
    dir: {type: 'string'},
    profile: {type: 'string', default: 'full'},
    out: {type: 'string'},
    keep: {type: 'boolean', default: false},
  },
})
const benchDir = path.resolve(opt.dir ?? process.env.PLAKAR_BENCH_DIR ?? path.join(os.homedir(), '.cache', 'plakar-bench'))
const work = path.join(benchDir, 'ui-work')
const plakarBin = path.resolve(opt.plakar ?? path.join(ROOT, 'bin', 'run.js'))
const say = (msg) => process.stderr.write(`[ui-bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`)
const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(PLAKAR_|NODE_OPTIONS)/.test(k)))
const env = {...baseEnv, HOME: path.join(work, 'home'), PLAKAR_PASSPHRASE: 'bench-only-passphrase', LC_ALL: 'C.UTF-8'}

const corpus = await ensureSet('many-small', {profile: opt.profile, dir: path.join(benchDir, 'corpora')})
fs.rmSync(work, {recursive: true, force: true})
fs.mkdirSync(env.HOME, {recursive: true})
const repo = path.join(work, 'repo')
const run = (...args) => {
  const r = spawnSync('node', [plakarBin, 'at', repo, ...args], {env, encoding: 'utf8', maxBuffer: 1 << 26})
  if (r.status !== 0) throw new Error(`plakar ${args.join(' ')}: exit ${r.status}\n${r.stderr}`)
  return r.stdout
}
run('create')
say(`backing up ${corpus.files} files of ${corpus.path}`)
let t = Date.now()
const snapshot = JSON.parse(run('backup', '--json', corpus.path)).id
const backupSeconds = (Date.now() - t) / 1000
say(`snapshot ${snapshot.slice(0, 8)} in ${backupSeconds.toFixed(1)} s`)

const server = spawn('node', [plakarBin, 'at', repo, 'ui', '--no-open', '--json'], {env, stdio: ['ignore', 'pipe', 'inherit']})
let link
for await (const line of createInterface({input: server.stdout})) {
  link = JSON.parse(line).url
  break
}
const origin = new URL(link).origin
const login = await fetch(link, {redirect: 'manual'})
const cookie = login.headers.get('set-cookie').split(';')[0]
const memory = () => {
  const status = fs.readFileSync(`/proc/${server.pid}/status`, 'utf8')
  const kb = (k) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)[1])
  return {rss: kb('VmRSS') * 1024, peak: kb('VmHWM') * 1024}
}
const get = async (p) => {
  const t0 = performance.now()
  const res = await fetch(origin + p, {headers: {cookie}})
  const body = await res.json()
  const ms = performance.now() - t0
  if (!res.ok) throw new Error(`${p}: ${res.status} ${JSON.stringify(body)}`)
  return {ms, body}
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const timed = async (label, fn, rounds = 5) => {
  const times = []
  let last
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now()
    last = await fn()
    times.push(performance.now() - t0)
  }
  rows.push({label, first: times[0], median: median(times)})
  say(`${label}: first ${times[0].toFixed(0)} ms, median ${median(times).toFixed(0)} ms`)
  return last
}
const rows = []
const q = (o) => new URLSearchParams(o).toString()
const root = corpus.path
const flat = `${root}/flat`

// The first request opens the snapshot: its header and the tree's top nodes come from storage.
await timed('snapshot list', () => get('/api/snapshots'))
await timed('open the root folder (entry + first page of 200)', async () => {
  const e = await get(`/api/snapshots/${snapshot}/entry?${q({path: root})}`)
  return get(`/api/snapshots/${snapshot}/children?${q({path: root, limit: 200})}`)
})
const first = await timed('open the 100,000-entry folder (entry + first page of 200)', async () => {
  const e = await get(`/api/snapshots/${snapshot}/entry?${q({path: flat})}`)
  if (e.body.summary.direct.files !== 100_000 && opt.profile === 'full') throw new Error(`flat/ has ${e.body.summary.direct.files} files`)
  return get(`/api/snapshots/${snapshot}/children?${q({path: flat, limit: 200})}`)
})
const names = first.body.entries.map((e) => e.name)
const before = memory()
let after = first.body.next
let pages = 1
let entries = first.body.entries.length
const pageTimes = []
let middle
t = performance.now()
while (after) {
  const page = await get(`/api/snapshots/${snapshot}/children?${q({path: flat, limit: 200, after})}`)
  pageTimes.push(page.ms)
  entries += page.body.entries.length
  if (pages === 250) middle = after
  after = page.body.next
  pages++
}
const allMs = performance.now() - t
const afterMem = memory()
rows.push({label: `every page of the 100,000-entry folder (${pages} pages, ${entries} entries)`, first: allMs, median: median(pageTimes)})
say(`paged through ${entries} entries in ${pages} pages: ${allMs.toFixed(0)} ms, median page ${median(pageTimes).toFixed(1)} ms`)
if (middle) await timed('a page in the middle (by its cursor)', () => get(`/api/snapshots/${snapshot}/children?${q({path: flat, limit: 200, after: middle})}`))
await timed('search by name (first page of 100)', () => get(`/api/snapshots/${snapshot}/search?${q({name: '99', limit: 100})}`))
await timed('search by type text/ (first page of 100)', () => get(`/api/snapshots/${snapshot}/search?${q({type: 'text/', limit: 100})}`))
await timed('timeline of one file', () => get(`/api/snapshots/${snapshot}/timeline?${q({path: `${flat}/${names[0]}`})}`))
const end = memory()
server.kill('SIGTERM')
await new Promise((r) => server.on('exit', r))

const mb = (b) => `${(b / 1048576).toFixed(0)} MiB`
const report = [
  `# plakar ui at scale (${new Date().toISOString().slice(0, 10)}, ${os.hostname()}, ${os.cpus().length} cores)`,
  '',
  `Corpus: many-small (${corpus.files.toLocaleString('en')} files, ${(corpus.bytes / 1e6).toFixed(0)} MB; flat/ holds 100,000). Backup: ${backupSeconds.toFixed(1)} s.`,
  `Command: \`node test/bench/ui.mjs\`. Times are client-side wall times over HTTP on 127.0.0.1 (first call, and median of 5).`,
  '',
  '| request | first | median |',
  '|---|---:|---:|',
  ...rows.map((r) => `| ${r.label} | ${r.first.toFixed(0)} ms | ${r.median.toFixed(1)} ms |`),
  '',
  `Server memory (RSS): ${mb(before.rss)} before paging through flat/, ${mb(afterMem.rss)} after ${pages} pages, ${mb(end.rss)} at the end; peak ${mb(end.peak)}.`,
  '',
].join('\n')
process.stdout.write(report)
const out = opt.out ?? path.join(HERE, 'results', `${new Date().toISOString().slice(0, 10)}-${os.hostname()}-ui.md`)
fs.writeFileSync(out, report)
say(`report: ${out}`)
if (!opt.keep) fs.rmSync(work, {recursive: true, force: true})
