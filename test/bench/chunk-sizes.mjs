// What the chunk sizes cost and save, measured with the real CLI (issue 5, "choices by
// measurement"): for each candidate MIN:AVG:MAX, a repository created with
// `plakar create --chunking MIN:AVG:MAX`, then
//   - versions: the ten releases copied in turn into one directory and backed up (as run.mjs
//     does), repository size after each;
//   - mixed: one backup of the mixed corpus; repository size, and what of it is metadata.
// Sizes come from the repository directory (all files) and from the client cache's index
// (blob bytes by type: chunks vs. tree nodes, indexes, chunk lists, headers; the state files
// that list every blob; the local cache.sqlite). The gear table is keyed per repository, so
// chunk boundaries, hence sizes, differ a little from one repository to the next: --rounds
// repeats everything with fresh repositories and the report gives medians and ranges.
//
//   node test/bench/chunk-sizes.mjs [--plakar CLI] [--rounds 2] [--corpora versions,mixed]
//                                   [--configs MIN:AVG:MAX,…] [--dir DIR] [--json FILE]
//
// The page cache is not dropped (sizes do not depend on it); times and peak RSS (GNU time) are
// reported as a side note.
import {spawnSync} from 'node:child_process'
import fs from 'node:fs'
import {createRequire} from 'node:module'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'
import {dirBytes} from './corpus.mjs'
import {waitQuiet} from './quiet.mjs'
import {median} from './report.mjs'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const ROOT = path.resolve(HERE, '../..')
const {values: opt} = parseArgs({
  options: {
    plakar: {type: 'string'},
    rounds: {type: 'string', default: '2'},
    corpora: {type: 'string', default: 'versions,mixed'},
    configs: {type: 'string', default: '65536:262144:2097152,131072:524288:4194304,262144:1048576:8388608,524288:2097152:8388608'},
    dir: {type: 'string'},
    json: {type: 'string'},
  },
})
const benchDir = path.resolve(opt.dir ?? process.env.PLAKAR_BENCH_DIR ?? path.join(os.homedir(), '.cache', 'plakar-bench'))
const corpusRoot = path.join(benchDir, 'corpora', 'full')
const work = path.join(benchDir, 'chunk-sizes-work')
const plakarBin = path.resolve(opt.plakar ?? path.join(ROOT, 'bin', 'run.js'))
const Database = createRequire(path.join(ROOT, 'core', 'engine', 'package.json'))('better-sqlite3')
const configs = opt.configs.split(',').map((s) => {
  const [min, avg, max] = s.split(':').map(Number)
  return {min, avg, max, spec: s}
})
const rounds = Number(opt.rounds)
const corpora = opt.corpora.split(',')
const DEFAULT_SPEC = '131072:524288:4194304'

const KiB = 1024
const MiB = KiB * KiB
const label = (c) => `${c.min / KiB}K/${c.avg >= MiB ? `${c.avg / MiB}M` : `${c.avg / KiB}K`}/${c.max / MiB}M`
const load1 = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0]
const say = (msg) => process.stderr.write(`[chunk-sizes ${new Date().toISOString().slice(11, 19)}] ${msg}\n`)
const mb = (n) => (n / 1e6).toFixed(n < 10e6 ? 2 : 1)

function plakar(d, args) {
  const timeFile = path.join(d.base, 'time.txt')
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', '-o', timeFile, process.execPath, plakarBin, '--cache-dir', d.cache, '--config-dir', path.join(d.cache, 'config'), '--quiet', 'at', d.repo, ...args], {
    encoding: 'utf8',
    env: {...process.env, PLAKAR_PASSPHRASE: 'bench-only-passphrase', HOME: path.join(work, 'home')},
    maxBuffer: 64 << 20,
  })
  if (r.status !== 0) throw new Error(`plakar ${args.join(' ')} exited ${r.status}: ${r.stderr.trim().slice(-800)}`)
  const [wall, user, sys, rss] = fs.readFileSync(timeFile, 'utf8').trim().split('\n').at(-1).split(' ').map(Number)
  return {wall, cpu: user + sys, rssKiB: rss, stdout: r.stdout}
}

/** Sizes of a repository and of its index, by blob type, from the client cache. */
function sizes(d) {
  const [cacheFile] = fs.readdirSync(path.join(d.cache, 'repositories')).map((id) => path.join(d.cache, 'repositories', id, 'cache.sqlite'))
  const db = new Database(cacheFile, {readonly: true})
  const rows = db.prepare('SELECT b.type AS type, count(*) AS n, sum(b.length) AS stored, sum(b.raw) AS raw FROM blobs b JOIN packfiles p ON p.n = b.pack WHERE p.deleted = 0 GROUP BY b.type').all()
  const packs = db.prepare('SELECT kind, count(*) AS n FROM packfiles WHERE deleted = 0 GROUP BY kind').all()
  db.close()
  const byType = Object.fromEntries(rows.map((r) => [r.type, r]))
  const chunk = byType[1] ?? {n: 0, stored: 0, raw: 0}
  const meta = rows.filter((r) => r.type !== 1)
  return {
    repoBytes: dirBytes(d.repo),
    packfileBytes: dirBytes(path.join(d.repo, 'packfiles')),
    stateBytes: dirBytes(path.join(d.repo, 'states')),
    chunks: chunk.n,
    chunkStored: chunk.stored,
    chunkRaw: chunk.raw,
    metaBlobs: meta.reduce((n, r) => n + r.n, 0),
    metaStored: meta.reduce((n, r) => n + r.stored, 0),
    metaByType: Object.fromEntries(meta.map((r) => [r.type, {n: r.n, stored: r.stored}])),
    packfiles: Object.fromEntries(packs.map((p) => [p.kind, p.n])),
    cacheBytes: fs.statSync(cacheFile).size,
  }
}

function dirsFor(corpus, cfg, round) {
  const base = path.join(work, `${corpus}-${cfg.spec.replaceAll(':', '-')}-r${round}`)
  fs.rmSync(base, {recursive: true, force: true})
  fs.mkdirSync(path.join(base, 'cache'), {recursive: true})
  return {base, repo: path.join(base, 'repo'), cache: path.join(base, 'cache')}
}

const PLANS = {
  versions(cfg, round) {
    const d = dirsFor('versions', cfg, round)
    plakar(d, ['create', '--chunking', cfg.spec])
    const src = path.join(corpusRoot, 'versions')
    const staging = path.join(d.base, 'src', 'package')
    const after = []
    let wall = 0
    let cpu = 0
    let rss = 0
    for (const v of fs.readdirSync(src).sort()) {
      fs.rmSync(staging, {recursive: true, force: true})
      fs.cpSync(path.join(src, v), staging, {recursive: true, verbatimSymlinks: true, preserveTimestamps: true})
      const t = plakar(d, ['backup', staging])
      wall += t.wall
      cpu += t.cpu
      rss = Math.max(rss, t.rssKiB)
      after.push(dirBytes(d.repo))
    }
    const s = sizes(d)
    fs.rmSync(d.base, {recursive: true, force: true})
    return {...s, after, wall, cpu, rssKiB: rss}
  },
  mixed(cfg, round) {
    const d = dirsFor('mixed', cfg, round)
    plakar(d, ['create', '--chunking', cfg.spec])
    const t = plakar(d, ['backup', path.join(corpusRoot, 'mixed')])
    const s = sizes(d)
    fs.rmSync(d.base, {recursive: true, force: true})
    return {...s, wall: t.wall, cpu: t.cpu, rssKiB: t.rssKiB}
  },
}

const started = new Date().toISOString()
const loadStart = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
const results = {}
for (let r = 1; r <= rounds; r++) {
  for (const corpus of corpora) {
    // Rotate the order of the candidates each round, so none always meets the same load.
    const order = configs.map((_, i) => configs[(i + r - 1) % configs.length])
    for (const cfg of order) {
      // Sizes do not depend on the load; the times beside them do, a little less on a quiet machine.
      const before = await waitQuiet({maxCores: 0.5, timeoutMs: 5 * 60_000, say})
      const res = PLANS[corpus](cfg, r)
      ;((results[corpus] ??= {})[cfg.spec] ??= []).push({...res, load1: Number(load1()), othersBefore: before.othersCores})
      say(`${corpus} ${label(cfg)} round ${r}: ${mb(res.repoBytes)} MB, ${res.chunks} chunks, meta ${mb(res.metaStored)} MB, ${res.wall.toFixed(1)} s, load ${load1()}`)
    }
  }
}
const loadEnd = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')

const med = (list, f) => median(list.map(f))
const range = (list, f) => {
  const xs = list.map(f)
  return xs.length > 1 ? ` (${mb(Math.min(...xs))}–${mb(Math.max(...xs))})` : ''
}
const lines = [
  `<!-- chunk-sizes.mjs, ${started}, plakar ${plakarBin}, ${rounds} round(s), load ${loadStart} → ${loadEnd} -->`,
  `Real CLI, fresh repository per candidate and round (\`plakar create --chunking MIN:AVG:MAX\`), encryption and zstd 3 as default; medians of ${rounds} round(s), range in brackets; MB = 10⁶ bytes.`,
  '',
]
if (results.versions) {
  lines.push('**versions** (ten typescript releases backed up in turn into one directory)', '', '| MIN/AVG/MAX | repository after ten versions | after the first | chunks stored | metadata blobs | backup time, ten versions (CPU) | peak RSS |', '|---|---:|---:|---:|---:|---:|---:|')
  for (const cfg of configs) {
    const l = results.versions[cfg.spec]
    lines.push(`| ${label(cfg)}${cfg.spec === DEFAULT_SPEC ? ' (default)' : ''} | ${mb(med(l, (x) => x.repoBytes))} MB${range(l, (x) => x.repoBytes)} | ${mb(med(l, (x) => x.after[0]))} MB | ${med(l, (x) => x.chunks)} | ${mb(med(l, (x) => x.metaStored))} MB | ${med(l, (x) => x.wall).toFixed(1)} s (${med(l, (x) => x.cpu).toFixed(1)} s) | ${(med(l, (x) => x.rssKiB) / 1024).toFixed(0)} MiB |`)
  }
  lines.push('')
}
if (results.mixed) {
  lines.push('**mixed** (one backup, 1.81 GB)', '', '| MIN/AVG/MAX | repository | chunk blobs | metadata blobs (tree, indexes, chunk lists, header) | state files | chunks | local cache.sqlite | backup time (CPU) | peak RSS |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|')
  for (const cfg of configs) {
    const l = results.mixed[cfg.spec]
    lines.push(`| ${label(cfg)}${cfg.spec === DEFAULT_SPEC ? ' (default)' : ''} | ${mb(med(l, (x) => x.repoBytes))} MB${range(l, (x) => x.repoBytes)} | ${mb(med(l, (x) => x.chunkStored))} MB | ${mb(med(l, (x) => x.metaStored))} MB | ${mb(med(l, (x) => x.stateBytes))} MB | ${med(l, (x) => x.chunks)} | ${mb(med(l, (x) => x.cacheBytes))} MB | ${med(l, (x) => x.wall).toFixed(1)} s (${med(l, (x) => x.cpu).toFixed(1)} s) | ${(med(l, (x) => x.rssKiB) / 1024).toFixed(0)} MiB |`)
  }
  lines.push('')
}
process.stdout.write(lines.join('\n') + '\n')
if (opt.json) fs.writeFileSync(opt.json, JSON.stringify({started, plakar: plakarBin, rounds, loadStart, loadEnd, configs, results}, null, 1))
