// Scale: a million files (issue 5, "Scale"). On the `million` corpus (1,000,000 files of 0–256
// bytes: 900,000 in 9,000 directories of 100 and 100,000 in one directory, flat/), each tool in
// turn: first backup, unchanged re-backup, listing of the 100,000-entry directory, diff of the
// two snapshots (a full walk of both trees: nothing changed), a name search over both snapshots
// with a pattern that has no literal prefix (so the whole name index is read), and a full
// restore, compared byte for byte with the source afterwards (untimed). Wall time, CPU time and
// peak RSS (GNU time %M) of every command; the page cache is dropped before each one (root).
// The same can be run on `many-small` (300,000 files, the same 100,000-entry directory) to see
// whether memory grows with the number of files.
//
//   node test/bench/million.mjs --plakar "$(test/bench/build-snapshot.sh)" [--tools plakar,restic]
//        [--corpora million,many-small] [--dir DIR] [--out FILE.md] [--keep]
//        [--mem-log]   (plakar runs preload test/bench/mem-sampler.cjs; logs kept in the work dir)
//
// Work files go to DIR/million-work (DIR as for run.mjs), not DIR/work, so that a harness run
// elsewhere is left alone. The report (Markdown) and raw JSON go to --out (default
// test/bench/results/<date>-<host>-million.md).
import {spawn, spawnSync} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'
import {dirBytes, ensureSet, treeDigest, updateState} from './corpus.mjs'
import {load1, waitQuiet} from './quiet.mjs'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const ROOT = path.resolve(HERE, '../..')
const PASSPHRASE = 'bench-only-passphrase'
const {values: opt} = parseArgs({
  options: {
    plakar: {type: 'string'},
    tools: {type: 'string', default: 'plakar,restic'},
    corpora: {type: 'string', default: 'million'},
    dir: {type: 'string'},
    out: {type: 'string'},
    keep: {type: 'boolean', default: false},
    'mem-log': {type: 'boolean', default: false},
    'no-verify': {type: 'boolean', default: false},
    profile: {type: 'string', default: 'full'},
  },
})
const benchDir = path.resolve(opt.dir ?? process.env.PLAKAR_BENCH_DIR ?? path.join(os.homedir(), '.cache', 'plakar-bench'))
const corpusDir = path.join(benchDir, 'corpora')
const work = path.join(benchDir, 'million-work')
const plakarBin = path.resolve(opt.plakar ?? path.join(ROOT, 'bin', 'run.js'))
const tools = opt.tools.split(',')
const corpora = opt.corpora.split(',')
const say = (msg) => process.stderr.write(`[million ${new Date().toISOString().slice(11, 19)}] ${msg}\n`)
const PATTERN = '*9999*'

const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(PLAKAR_|RESTIC_|NODE_OPTIONS)/.test(k)))
const env = (extra) => ({...baseEnv, HOME: path.join(work, 'home'), LC_ALL: 'C.UTF-8', ...extra})

function coldCache() {
  spawnSync('sync')
  try {
    fs.writeFileSync('/proc/sys/vm/drop_caches', '3')
    return true
  } catch {
    return false
  }
}

/** Runs one command under GNU time; counts stdout lines without keeping them. */
function timed(cmd, args, {env: e, log}) {
  return new Promise((resolve) => {
    const timeFile = `${log}.time`
    const err = fs.openSync(`${log}.err`, 'w')
    const t0 = process.hrtime.bigint()
    const child = spawn('/usr/bin/time', ['-f', '%e %U %S %M', '-o', timeFile, cmd, ...args], {env: e, cwd: work, stdio: ['ignore', 'pipe', err]})
    let lines = 0
    let bytes = 0
    const head = []
    child.stdout.on('data', (d) => {
      bytes += d.length
      for (let i = d.indexOf(10); i >= 0; i = d.indexOf(10, i + 1)) lines++
      if (head.length < 20) head.push(d.toString('utf8', 0, Math.min(d.length, 4000)))
    })
    child.on('close', (code) => {
      fs.closeSync(err)
      const wall = Number(process.hrtime.bigint() - t0) / 1e9
      const [, user, sys, rss] = (fs.existsSync(timeFile) ? fs.readFileSync(timeFile, 'utf8').trim().split('\n').at(-1) : '').split(' ').map(Number)
      const r = {code, ok: code === 0, wall, user, sys, rssKiB: rss, lines, stdoutBytes: bytes, head: head.join('').slice(0, 4000)}
      if (!r.ok) r.error = fs.readFileSync(`${log}.err`, 'utf8').trim().split('\n').slice(-3).join(' | ')
      resolve(r)
    })
  })
}

const TOOLS = {
  plakar: {
    run(d, args, extraEnv = {}) {
      const pre = opt['mem-log'] ? ['--require', path.join(HERE, 'mem-sampler.cjs')] : []
      return [process.execPath, [...pre, plakarBin, '--cache-dir', d.cache, '--config-dir', path.join(d.cache, 'config'), '--quiet', 'at', d.repo, ...args], env({PLAKAR_PASSPHRASE: PASSPHRASE, ...extraEnv})]
    },
    init: (d) => ['create'],
    backup: (d, src) => ['backup', src],
    async ids(d) {
      const [c, a, e] = this.run(d, ['ls', '--json'])
      const r = spawnSync(c, a, {env: e, encoding: 'utf8', maxBuffer: 64 << 20})
      return r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)).sort((x, y) => (x.time < y.time ? -1 : 1)).map((s) => s.id)
    },
    ls: (d, ids, dir) => ['ls', `${ids[1]}:${dir}`],
    diff: (d, ids) => ['diff', ids[0], ids[1]],
    locate: () => ['locate', PATTERN],
    restore: (d, ids, target) => ['restore', '--to', target, ids[1]],
    restored: (target) => target,
  },
  restic: {
    run(d, args) {
      return ['restic', ['--repo', d.repo, '--cache-dir', d.cache, '--quiet', ...args], env({RESTIC_PASSWORD: PASSPHRASE})]
    },
    init: () => ['init'],
    backup: (d, src) => ['backup', src],
    async ids(d) {
      const [c, a, e] = this.run(d, ['snapshots', '--json'])
      const r = spawnSync(c, a, {env: e, encoding: 'utf8', maxBuffer: 64 << 20})
      return JSON.parse(r.stdout).sort((x, y) => (x.time < y.time ? -1 : 1)).map((s) => s.id)
    },
    ls: (d, ids, dir) => ['ls', ids[1], dir],
    diff: (d, ids) => ['diff', ids[0], ids[1]],
    locate: () => ['find', PATTERN],
    restore: (d, ids, target) => ['restore', ids[1], '--target', target],
    restored: (target, src) => path.join(target, src),
  },
}

function version(tool) {
  if (tool === 'restic') return spawnSync('restic', ['version'], {encoding: 'utf8'}).stdout.trim()
  const frozen = path.join(path.dirname(plakarBin), '..', '.bench-commit')
  const v = spawnSync(process.execPath, [plakarBin, 'version'], {encoding: 'utf8'}).stdout.trim().split('\n')[0]
  return fs.existsSync(frozen) ? `${v}, commit ${fs.readFileSync(frozen, 'utf8').trim()} (frozen build)` : v
}

const records = []
let seq = 0
async function step(corpus, tool, op, args, d, {cold = true, memLog} = {}) {
  const quiet = await waitQuiet({maxCores: 0.3, timeoutMs: 10 * 60_000, say})
  const dropped = cold ? coldCache() : false
  const log = path.join(work, 'logs', `${String(++seq).padStart(3, '0')}-${corpus}-${tool}-${op}`)
  fs.mkdirSync(path.dirname(log), {recursive: true})
  const extra = tool === 'plakar' && opt['mem-log'] ? {PLAKAR_MEM_LOG: `${log}.mem.jsonl`} : {}
  const [c, a, e] = TOOLS[tool].run(d, args, extra)
  const r = await timed(c, a, {env: e, log})
  const rec = {corpus, tool, op, ...r, dropped, othersBefore: quiet.othersCores, load1Before: quiet.load1, load1After: load1()}
  delete rec.head
  if (op === 'ls' || op === 'locate' || op === 'diff') rec.sample = r.head.split('\n').slice(0, 3)
  records.push(rec)
  say(`${corpus} ${tool.padEnd(6)} ${op.padEnd(9)} ${r.ok ? 'ok' : `FAILED ${r.error}`} ${r.wall.toFixed(1)} s, ${(r.rssKiB / 1024).toFixed(0)} MiB, ${r.lines} lines, load ${quiet.load1}`)
  return rec
}

const started = new Date()
fs.rmSync(work, {recursive: true, force: true})
fs.mkdirSync(path.join(work, 'home'), {recursive: true})
const meta = {date: started.toISOString(), host: os.hostname(), cpu: os.cpus()[0]?.model, nproc: os.availableParallelism(), node: process.version, command: `node test/bench/million.mjs ${process.argv.slice(2).join(' ')}`, versions: Object.fromEntries(tools.map((t) => [t, version(t)])), corpora: {}}
for (const corpus of corpora) {
  const set = await ensureSet(corpus, {profile: opt.profile, dir: corpusDir})
  if (!opt['no-verify'] && !set.digest) {
    say(`${corpus}: digest of the source tree`)
    set.digest = await treeDigest(set.path)
    updateState(corpus, {profile: opt.profile, dir: corpusDir}, {digest: set.digest})
  }
  meta.corpora[corpus] = {files: set.files, bytes: set.bytes}
  const flat = path.join(set.path, 'flat')
  for (const tool of tools) {
    const base = path.join(work, corpus, tool)
    const d = {repo: path.join(base, 'repo'), cache: path.join(base, 'cache')}
    fs.mkdirSync(d.cache, {recursive: true})
    const T = TOOLS[tool]
    await step(corpus, tool, 'init', T.init(d), d, {cold: false})
    const b1 = await step(corpus, tool, 'backup', T.backup(d, set.path), d)
    b1.repoBytes = dirBytes(d.repo)
    const b2 = await step(corpus, tool, 'rebackup', T.backup(d, set.path), d)
    b2.repoBytes = dirBytes(d.repo)
    const ids = await T.ids(d)
    if (ids.length !== 2) throw new Error(`${tool}: expected two snapshots, got ${ids.length}`)
    await step(corpus, tool, 'ls', T.ls(d, ids, flat), d)
    await step(corpus, tool, 'diff', T.diff(d, ids), d)
    await step(corpus, tool, 'locate', T.locate(d), d)
    const target = path.join(work, corpus, `restore-${tool}`)
    const rr = await step(corpus, tool, 'restore', T.restore(d, ids, target), d)
    if (rr.ok && !opt['no-verify']) {
      const got = await treeDigest(T.restored(target, set.path))
      rr.verified = got === set.digest
      say(`${corpus} ${tool} restore ${rr.verified ? 'matches' : 'DIFFERS from'} the source`)
    }
    fs.rmSync(target, {recursive: true, force: true})
    if (!opt.keep) fs.rmSync(base, {recursive: true, force: true})
  }
}
meta.endDate = new Date().toISOString()

// Report
const out = path.resolve(opt.out ?? path.join(HERE, 'results', `${meta.date.slice(0, 10)}-${os.hostname()}-million.md`))
const mib = (k) => (k / 1024).toFixed(0)
const ops = ['backup', 'rebackup', 'ls', 'diff', 'locate', 'restore']
const opLabel = {backup: 'first backup', rebackup: 'unchanged re-backup', ls: 'ls of flat/ (100,000 entries)', diff: 'diff of the two snapshots', locate: `locate '${PATTERN}' (both snapshots)`, restore: 'full restore'}
const lines = [
  `# A million files, ${meta.date.slice(0, 10)}`,
  '',
  `Command: \`${meta.command}\``,
  `Machine: ${meta.cpu}, ${meta.nproc} cores, ${meta.node}. ${Object.entries(meta.versions).map(([t, v]) => `${t}: ${v}`).join('; ')}.`,
  `Page cache dropped before each step: ${records.filter((r) => r.op !== 'init').every((r) => r.dropped) ? 'yes' : 'not always'}. Each step waited for other processes to use < 0.3 cores; load average (1 min) at the steps' start: ${Math.min(...records.map((r) => r.load1Before))}–${Math.max(...records.map((r) => r.load1Before))}.`,
  '',
]
for (const corpus of corpora) {
  lines.push(`## ${corpus}: ${meta.corpora[corpus].files.toLocaleString('en')} files, ${(meta.corpora[corpus].bytes / 1e6).toFixed(0)} MB`, '', `| step | ${tools.map((t) => `${t}: wall (CPU) · peak RSS`).join(' | ')} | ${tools.length > 1 ? 'plakar ÷ restic (time · RSS)' : ''} |`, `|---|${tools.map(() => '---:').join('|')}|${tools.length > 1 ? '---:|' : ''}`)
  for (const op of ops) {
    const by = Object.fromEntries(tools.map((t) => [t, records.find((r) => r.corpus === corpus && r.tool === t && r.op === op)]))
    const cell = (r) => (!r ? '–' : !r.ok ? `failed (${r.code})` : `${r.wall.toFixed(1)} s (${(r.user + r.sys).toFixed(1)} s) · ${mib(r.rssKiB)} MiB${op === 'ls' || op === 'locate' ? ` · ${r.lines.toLocaleString('en')} lines` : ''}${op === 'restore' && r.verified !== undefined ? (r.verified ? ' · identical' : ' · DIFFERS') : ''}`)
    const ratio = by.plakar?.ok && by.restic?.ok ? `${(by.plakar.wall / by.restic.wall).toFixed(2)} · ${(by.plakar.rssKiB / by.restic.rssKiB).toFixed(2)}` : ''
    lines.push(`| ${opLabel[op]} | ${tools.map((t) => cell(by[t])).join(' | ')} | ${tools.length > 1 ? `${ratio} |` : ''}`)
  }
  const repo = (t, op) => records.find((r) => r.corpus === corpus && r.tool === t && r.op === op)?.repoBytes
  lines.push(`| repository size after both backups | ${tools.map((t) => `${((repo(t, 'rebackup') ?? 0) / 1e6).toFixed(1)} MB (re-backup added ${(((repo(t, 'rebackup') ?? 0) - (repo(t, 'backup') ?? 0)) / 1e6).toFixed(2)} MB)`).join(' | ')} | ${tools.length > 1 ? ' |' : ''}`, '')
}
lines.push('RSS in MiB (GNU time %M, KiB ÷ 1024); CPU = user + system.', '')
fs.mkdirSync(path.dirname(out), {recursive: true})
fs.writeFileSync(out, lines.join('\n'))
fs.writeFileSync(out.replace(/\.md$/, '.json'), JSON.stringify({meta, records}, null, 1))
say(`report: ${out}`)
process.stdout.write(lines.join('\n'))
