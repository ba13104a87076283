// The agent left running: 5 tasks (backup, check, restore-test, sync, prune) every 10 s on one
// repository for MINUTES minutes (default 10). Reports the agent's memory over time (RSS and V8
// heap, sampled by mem-sampler.cjs), whether any two runs overlapped, and whether every due time
// of every task is in the history (run, or recorded as skipped). A benchmark, not a test: it
// takes as long as it says.
//
//   node test/bench/agent-soak.mjs [MINUTES] [--out FILE.json]
import Database from 'better-sqlite3'
import {execFileSync, spawn} from 'node:child_process'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const BIN = join(ROOT, 'bin', 'run.js')
const minutes = Number(process.argv.find((a) => /^\d+(\.\d+)?$/.test(a)) ?? 10)
const outArg = process.argv.indexOf('--out')
const out = outArg > 0 ? process.argv[outArg + 1] : undefined
const EVERY_S = 10

const dir = mkdtempSync(join(tmpdir(), 'plakar-agent-soak-'))
const env = {
  ...process.env,
  HOME: dir,
  PLAKAR_CONFIG_DIR: join(dir, 'config'),
  PLAKAR_CACHE_DIR: join(dir, 'cache'),
  PLAKAR_PASSPHRASE: 'soak',
  NODE_ENV: '',
}
const plakar = (...args) => execFileSync('node', [BIN, ...args], {env, stdio: ['ignore', 'pipe', 'pipe']}).toString()

// A source that changes between backups: 2,000 files, a few rewritten by the post hook.
const src = join(dir, 'src')
for (let d = 0; d < 20; d++) {
  mkdirSync(join(src, String(d)), {recursive: true})
  for (let f = 0; f < 100; f++) writeFileSync(join(src, String(d), `${f}.txt`), `${d}/${f} `.repeat(200))
}
const repo = join(dir, 'repo')
const peer = join(dir, 'peer')
plakar('at', repo, 'create')
plakar('at', peer, 'create')
plakar('policy', 'add', 'soak', '--keep-last', '5')
const state = join(dir, 'state')
const file = join(dir, 'agent.yaml')
writeFileSync(
  file,
  `repository: ${repo}
state_dir: ${state}
tasks:
  home:
    kind: backup
    source: ${src}
    every: ${EVERY_S}s
    hooks:
      post: date +%s%N > ${join(src, '0', 'changing.txt')}
  verify:
    kind: check
    every: ${EVERY_S}s
  drill:
    kind: restore-test
    sample: 20
    every: ${EVERY_S}s
  offsite:
    kind: sync
    to: ${peer}
    every: ${EVERY_S}s
  retention:
    kind: prune
    policy: soak
    every: ${EVERY_S}s
`,
)

const memLog = join(dir, 'mem.jsonl')
const t0 = Date.now()
const agent = spawn('node', ['--require', join(ROOT, 'test', 'bench', 'mem-sampler.cjs'), BIN, 'agent', 'start', '--foreground', '--quiet', '--config', file], {
  env: {...env, PLAKAR_MEM_LOG: memLog, SAMPLE_MS: '5000'},
  stdio: ['ignore', 'ignore', 'inherit'],
})
process.stderr.write(`agent soak: ${minutes} min, 5 tasks every ${EVERY_S}s, pid ${agent.pid}, in ${dir}\n`)
await new Promise((r) => setTimeout(r, minutes * 60_000))
agent.kill('SIGTERM')
const code = await new Promise((r) => agent.on('exit', (c) => r(c)))
const duration = Date.now() - t0

// Memory of the agent's process (its main thread's heap), by minute. Task processes (one per
// run, started with the agent's Node options, so sampled too) are counted apart: their peak.
const all = readFileSync(memLog, 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l))
const samples = all.filter((s) => s.pid === undefined || s.pid === agent.pid)
const taskSamples = all.filter((s) => s.pid !== undefined && s.pid !== agent.pid)
const mainTid = Math.min(...samples.map((s) => s.tid))
const MiB = (x) => Math.round((x / 1048576) * 10) / 10
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length ? s[Math.floor(s.length / 2)] : NaN
}
const byMinute = []
for (let m = 0; m < Math.ceil(duration / 60_000); m++) {
  const inMinute = samples.filter((s) => s.t >= m * 60_000 && s.t < (m + 1) * 60_000)
  const mainIn = inMinute.filter((s) => s.tid === mainTid)
  // The floor (the lowest sample) is the agent between runs: a leak raises it; the median
  // also moves with how many runs happened to be in flight when the samples were taken.
  byMinute.push({minute: m + 1, rssMiB: MiB(median(inMinute.map((s) => s.rss))), floorRssMiB: MiB(Math.min(...inMinute.map((s) => s.rss))), heapUsedMiB: MiB(median(mainIn.map((s) => s.heapUsed)))})
}
// Least-squares slope of RSS after the first two minutes (warm-up: caches, workers), MiB per minute.
const steady = samples.filter((s) => s.t >= 120_000)
const slopeOf = (xs, ys) => {
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length
  const my = ys.reduce((a, b) => a + b, 0) / ys.length
  const num = xs.reduce((a, x, i) => a + (x - mx) * (ys[i] - my), 0)
  const den = xs.reduce((a, x) => a + (x - mx) ** 2, 0)
  return Math.round((num / den) * 100) / 100
}
const slope = slopeOf(steady.map((s) => s.t / 60_000), steady.map((s) => s.rss / 1048576))
const floors = byMinute.filter((m) => m.minute > 2)
const floorSlope = slopeOf(floors.map((m) => m.minute), floors.map((m) => m.floorRssMiB))

// The history: every due time of every task, overlaps, results.
const db = new Database(join(state, 'history.db'), {readonly: true})
const rows = db.prepare('SELECT * FROM runs ORDER BY id').all()
db.close()
const tasks = ['home', 'verify', 'drill', 'offsite', 'retention']
const perTask = {}
let gaps = 0
for (const task of tasks) {
  const mine = rows.filter((r) => r.task === task)
  const dues = mine.map((r) => r.due).sort((a, b) => a - b)
  // Consecutive due times are exactly one interval apart: no due time went unrecorded.
  for (let i = 1; i < dues.length; i++) if (dues[i] - dues[i - 1] !== EVERY_S * 1000) gaps++
  const results = {}
  for (const r of mine) results[r.result] = (results[r.result] ?? 0) + 1
  perTask[task] = {dueTimes: dues.length, results}
}
const ran = rows.filter((r) => r.started !== null && r.finished !== null).sort((a, b) => a.started - b.started)
let overlaps = 0
for (let i = 1; i < ran.length; i++) if (ran[i].started < ran[i - 1].finished) overlaps++
const report = {
  date: new Date().toISOString(),
  minutes,
  everySeconds: EVERY_S,
  exitCode: code,
  rows: rows.length,
  perTask,
  gaps,
  overlaps,
  notEnded: rows.filter((r) => !['success', 'failure', 'skipped'].includes(r.result)).length,
  failures: rows.filter((r) => r.result === 'failure').map((r) => `${r.task}: ${r.error}`).slice(0, 5),
  memory: {
    peakRssMiB: MiB(Math.max(...samples.map((s) => s.rss))),
    rssSlopeMiBPerMinuteAfter2min: slope,
    // Least-squares slope of the per-minute floors after the first two minutes: the agent between runs.
    floorSlopeMiBPerMinuteAfter2min: floorSlope,
    byMinute,
    taskProcesses: taskSamples.length === 0 ? null : {processes: new Set(taskSamples.map((s) => s.pid)).size, peakRssMiB: MiB(Math.max(...taskSamples.map((s) => s.rss))), medianRssMiB: MiB(median(taskSamples.map((s) => s.rss)))},
  },
}
console.log(JSON.stringify(report, null, 2))
if (out) writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`)
rmSync(dir, {recursive: true, force: true})
