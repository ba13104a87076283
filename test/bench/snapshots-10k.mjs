// Issue 10 figure: opening a repository with 10,000 snapshots on a cold cache, and `ls`, before
// and after state compaction (plakar maintenance). The repository is made as 10,000 hourly
// backups leave it: one real backup of a small tree, then 10,000 snapshots each written as a
// backup writes one (its header in a metadata packfile of its own, then a state naming it), all
// sharing that tree. Timings are of the CLI, wall clock, with the cache directory removed before
// each run (cold cache), median of --runs.
//
//   node test/bench/snapshots-10k.mjs [--snapshots 10000] [--runs 3] [--dir DIR] [--keep]
import {execFileSync, spawnSync} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {Readable} from 'node:stream'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const ROOT = path.resolve(HERE, '../..')
const BIN = path.join(ROOT, 'bin', 'run.js')
const PASSPHRASE = 'bench-only-passphrase'
const {values: opt} = parseArgs({
  options: {snapshots: {type: 'string', default: '10000'}, runs: {type: 'string', default: '3'}, dir: {type: 'string'}, keep: {type: 'boolean'}},
})
const N = Number(opt.snapshots)
const work = fs.mkdtempSync(path.join(opt.dir ?? os.tmpdir(), 'plakar-10k-'))
const repoDir = path.join(work, 'repo')
const cacheDir = path.join(work, 'cache')
const env = {...process.env, PLAKAR_PASSPHRASE: PASSPHRASE, PLAKAR_CACHE_DIR: cacheDir, PLAKAR_CONFIG_DIR: path.join(work, 'config'), HOME: work}

const {Repository} = await import(path.join(ROOT, 'core/engine/dist/repository/repository.js'))
const {RepositoryWriter} = await import(path.join(ROOT, 'core/engine/dist/repository/writer.js'))
const {backup} = await import(path.join(ROOT, 'core/engine/dist/engine/backup.js'))
const {BlobType} = await import(path.join(ROOT, 'core/engine/dist/format/blob-type.js'))
const {encodeHeader, infoOf} = await import(path.join(ROOT, 'core/engine/dist/format/snapshot.js'))
const {FsStorage} = await import(path.join(ROOT, 'plugins/fs/dist/storage.js'))

const quiet = {debug() {}, info() {}, warn() {}}
await Repository.create(new FsStorage(repoDir), {passphrase: Buffer.from(PASSPHRASE)})
const repo = await Repository.open(new FsStorage(repoDir), {cacheDir: path.join(work, 'gen-cache'), passphrase: async () => Buffer.from(PASSPHRASE), logger: quiet})
const tree = [
  {path: '/data', info: {type: 'directory', size: 0}},
  ...Array.from({length: 20}, (_, i) => {
    const data = Buffer.from(`file ${i}\n`.repeat(100))
    return {path: `/data/f${i}`, info: {type: 'file', size: data.length, mode: 0o644, mtime: 1}, open: async () => Readable.from([data])}
  }),
]
const first = await backup(repo, [{type: 'fs', origin: os.hostname(), root: '/data', async *scan() { yield* tree }, async close() {}}], {tmpDir: work})
const t0 = Date.now()
const start = Date.now() - N * 3_600_000
for (let i = 0; i < N; i++) {
  const header = {...first.snapshot, id: (await import('node:crypto')).randomBytes(32), time: start + i * 3_600_000, tags: i % 24 === 0 ? ['daily'] : []}
  const writer = new RepositoryWriter(repo, {host: os.hostname()})
  const {mac} = await writer.put(BlobType.SNAPSHOT, encodeHeader(header))
  await writer.commit({id: header.id, header: mac, time: header.time, info: infoOf(header)})
  if ((i + 1) % 1000 === 0) process.stderr.write(`  ${i + 1} snapshots written (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`)
}
await repo.close()

function timed(args) {
  const times = []
  let out = ''
  for (let r = 0; r < Number(opt.runs); r++) {
    fs.rmSync(cacheDir, {recursive: true, force: true})
    const began = process.hrtime.bigint()
    const res = spawnSync('node', [BIN, 'at', repoDir, ...args], {env, encoding: 'utf8', maxBuffer: 1 << 28})
    times.push(Number(process.hrtime.bigint() - began) / 1e9)
    if (res.status !== 0) throw new Error(`plakar ${args.join(' ')} failed: ${res.stderr}`)
    out = res.stdout
  }
  times.sort((a, b) => a - b)
  return {median: times[Math.floor(times.length / 2)], times, lines: out.split('\n').filter(Boolean).length}
}
const count = (kind) => fs.readdirSync(path.join(repoDir, kind), {recursive: true}).filter((f) => /^[0-9a-f]{64}$/.test(path.basename(String(f)))).length

const states0 = count('states')
const before = timed(['ls'])
const version = timed(['version'])
fs.rmSync(cacheDir, {recursive: true, force: true})
const m0 = process.hrtime.bigint()
const report = JSON.parse(execFileSync('node', [BIN, 'at', repoDir, 'maintenance', '--grace', '0', '--json'], {env, encoding: 'utf8', maxBuffer: 1 << 26}))
const maintenanceSeconds = Number(process.hrtime.bigint() - m0) / 1e9
const states1 = count('states')
const after = timed(['ls'])
const info = timed(['info'])

const lines = [
  `# ${N} snapshots: cold-cache open and ls, before and after compaction`,
  '',
  `host ${os.hostname()}, ${os.cpus().length} CPUs, node ${process.version}, ${new Date().toISOString()}; fs storage at ${repoDir}`,
  `command: node test/bench/snapshots-10k.mjs --snapshots ${N} --runs ${opt.runs}`,
  '',
  `| step | states | wall (median of ${opt.runs}) | runs |`,
  '|---|---|---|---|',
  `| plakar version (startup, no repository) | - | ${version.median.toFixed(2)} s | ${version.times.map((t) => t.toFixed(2)).join(', ')} |`,
  `| plakar ls, cold cache, before compaction | ${states0} | ${before.median.toFixed(2)} s | ${before.times.map((t) => t.toFixed(2)).join(', ')} |`,
  `| plakar maintenance --grace 0 (cold cache) | ${states0} -> ${states1} | ${maintenanceSeconds.toFixed(2)} s | 1 |`,
  `| plakar ls, cold cache, after compaction | ${states1} | ${after.median.toFixed(2)} s | ${after.times.map((t) => t.toFixed(2)).join(', ')} |`,
  `| plakar info, cold cache, after compaction | ${states1} | ${info.median.toFixed(2)} s | ${info.times.map((t) => t.toFixed(2)).join(', ')} |`,
  '',
  `ls printed ${before.lines} snapshots before and ${after.lines} after. maintenance: ${JSON.stringify(report)}`,
]
console.log(lines.join('\n'))
if (!opt.keep) fs.rmSync(work, {recursive: true, force: true})
else process.stderr.write(`kept ${work}\n`)
