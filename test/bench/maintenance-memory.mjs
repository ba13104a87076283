// Issue 10: maintenance memory must not grow with the size of the index. For each --files N,
// a repository gets 4 backups of N/4 distinct small files each (one chunk blob per file, plus
// tree and index nodes: the index grows with N), the first snapshot is removed, then
// `plakar maintenance --grace 0` runs on a cold cache (the index is rebuilt from the states,
// the live set walked, a quarter of the packfiles deleted, the states compacted) under
// /usr/bin/time -v: its peak RSS is what the figure compares.
//
//   node test/bench/maintenance-memory.mjs [--files 40000,400000] [--dir DIR] [--keep] [--reuse DIR]
//
// Building the repository takes longer than maintaining it (minutes at 400,000 files): with
// --reuse DIR, the repository made for N files is kept as DIR/files-N and each later run with
// the same N maintains a copy of it, so that runs compare maintenance alone.
import {execFileSync, spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {Readable} from 'node:stream'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const ROOT = path.resolve(HERE, '../..')
const BIN = path.join(ROOT, 'bin', 'run.js')
const {values: opt} = parseArgs({options: {files: {type: 'string', default: '40000,400000'}, dir: {type: 'string'}, keep: {type: 'boolean'}, reuse: {type: 'string'}}})

const {Repository} = await import(path.join(ROOT, 'core/engine/dist/repository/repository.js'))
const {backup} = await import(path.join(ROOT, 'core/engine/dist/engine/backup.js'))
const {removeSnapshots} = await import(path.join(ROOT, 'core/engine/dist/engine/remove.js'))
const {listSnapshots} = await import(path.join(ROOT, 'core/engine/dist/engine/selection.js'))
const {FsStorage} = await import(path.join(ROOT, 'plugins/fs/dist/storage.js'))
const quiet = {debug() {}, info() {}, warn() {}}

function importer(part, count) {
  return {
    type: 'fs',
    origin: os.hostname(),
    root: `/part${part}`,
    async *scan() {
      yield {path: `/part${part}`, info: {type: 'directory', size: 0}}
      for (let d = 0; d < Math.ceil(count / 1000); d++) {
        const dir = `/part${part}/d${String(d).padStart(4, '0')}`
        yield {path: dir, info: {type: 'directory', size: 0}}
        for (let i = d * 1000; i < Math.min(count, (d + 1) * 1000); i++) {
          const data = randomBytes(64)
          yield {path: `${dir}/f${String(i).padStart(7, '0')}`, info: {type: 'file', size: data.length, mode: 0o644, mtime: 1}, open: async () => Readable.from([data])}
        }
      }
    },
    async close() {},
  }
}

const rows = []
for (const n of opt.files.split(',').map(Number)) {
  const work = fs.mkdtempSync(path.join(opt.dir ?? os.tmpdir(), 'plakar-maint-mem-'))
  const repoDir = path.join(work, 'repo')
  const env = {...process.env, PLAKAR_CACHE_DIR: path.join(work, 'cache'), PLAKAR_CONFIG_DIR: path.join(work, 'config'), HOME: work}
  const saved = opt.reuse && path.join(opt.reuse, `files-${n}`)
  let blobs
  if (saved && fs.existsSync(path.join(saved, 'blobs'))) {
    fs.cpSync(path.join(saved, 'repo'), repoDir, {recursive: true})
    blobs = Number(fs.readFileSync(path.join(saved, 'blobs'), 'utf8'))
    process.stderr.write(`  ${n} files: repository copied from ${saved}, ${blobs} blobs\n`)
  } else {
    await Repository.create(new FsStorage(repoDir), {})
    const repo = await Repository.open(new FsStorage(repoDir), {cacheDir: path.join(work, 'gen-cache'), passphrase: async () => Buffer.alloc(0), logger: quiet})
    const t0 = Date.now()
    for (let part = 0; part < 4; part++) await backup(repo, [importer(part, n / 4)], {tmpDir: work})
    await removeSnapshots(repo, (await listSnapshots(repo)).slice(0, 1))
    blobs = repo.cache.stats().blobs
    await repo.close()
    fs.rmSync(path.join(work, 'gen-cache'), {recursive: true, force: true})
    process.stderr.write(`  ${n} files: repository made in ${((Date.now() - t0) / 1000).toFixed(0)} s, ${blobs} blobs\n`)
    if (saved) {
      fs.cpSync(repoDir, path.join(saved, 'repo'), {recursive: true})
      fs.writeFileSync(path.join(saved, 'blobs'), String(blobs))
    }
  }
  const began = process.hrtime.bigint()
  const res = spawnSync('/usr/bin/time', ['-v', 'node', BIN, 'at', repoDir, 'maintenance', '--grace', '0', '--json'], {env, encoding: 'utf8', maxBuffer: 1 << 26})
  const seconds = Number(process.hrtime.bigint() - began) / 1e9
  if (res.status !== 0) throw new Error(`maintenance failed: ${res.stderr}`)
  const peakKiB = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(res.stderr)[1])
  const report = JSON.parse(res.stdout)
  execFileSync('node', [BIN, 'at', repoDir, 'check', '--fast'], {env, stdio: 'ignore'})
  rows.push({n, blobs, peakMiB: peakKiB / 1024, seconds, report})
  if (!opt.keep) fs.rmSync(work, {recursive: true, force: true})
  else process.stderr.write(`kept ${work}\n`)
}

const lines = [
  '# maintenance peak RSS against index size',
  '',
  `host ${os.hostname()}, ${os.cpus().length} CPUs, node ${process.version}, ${new Date().toISOString()}`,
  `command: node test/bench/maintenance-memory.mjs --files ${opt.files}`,
  '',
  '| files | blobs in the index | packfiles | deleted | states before -> after | peak RSS | wall |',
  '|---|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.n} | ${r.blobs} | ${r.report.packfiles} | ${r.report.deleted} | ${r.report.statesBefore} -> ${r.report.statesAfter} | ${r.peakMiB.toFixed(0)} MiB | ${r.seconds.toFixed(1)} s |`,
  ),
]
if (rows.length > 1) lines.push('', `peak RSS ratio ${(rows.at(-1).peakMiB / rows[0].peakMiB).toFixed(2)} for ${(rows.at(-1).blobs / rows[0].blobs).toFixed(1)}x the blobs`)
console.log(lines.join('\n'))
