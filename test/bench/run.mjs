// The benchmark of issue 5: plakar, restic and borg on the same corpora, same machine, same run.
//
//   npm run build && npm run bench                         # everything, 3 rounds (hours)
//   npm run bench -- --corpora mixed --rounds 3            # one corpus
//   npm run bench -- --profile tiny --rounds 1 --tools plakar,restic   # a few MB, seconds
//   npm run bench -- --plakar "$(test/bench/build-snapshot.sh)"   # a frozen build of HEAD
//
// Options:
//   --profile full|tiny   corpus sizes (tiny: a few MB, no network; used by the smoke test)
//   --corpora a,b         versions, mixed, source-tree, many-small, big-random (default: these
//                         five), million
//   --rounds N            rounds per corpus (default 3; medians are taken over them)
//   --tools a,b           plakar,restic,borg (default: all three; plakar must be one)
//   --dir DIR             work root (default $PLAKAR_BENCH_DIR, else ~/.cache/plakar-bench):
//                         corpora in DIR/corpora (kept, built once), repositories, caches,
//                         restores and logs in DIR/work (emptied at start)
//   --plakar FILE         the plakar CLI to measure (default: this checkout's bin/run.js)
//   --out FILE.md         the report (default: test/bench/results/<date>-<host>.md for the
//                         full profile, DIR/report-<profile>.md otherwise); raw JSON beside it
//   --no-drop-caches      keep the page cache (default: dropped before timed steps when root)
//   --no-install          do not install missing peers from Debian
//   --no-verify           do not compare restored trees with their source
//   --keep                keep repositories and logs after each corpus
// Environment: PLAKAR_BENCH_NODE_ARGS (extra node flags for plakar runs, e.g. "--cpu-prof
// --cpu-prof-dir=/tmp/prof").
//
// Every step of a corpus runs once per tool before the next step starts, tools in a rotating
// order, so that all three meet the same machine load; a failed run is recorded and reported,
// never dropped. Nothing here is committed except the report and its raw JSON.
import {spawn, spawnSync} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'
import {DEFAULT_SETS, SETS, dirBytes, ensureSet, treeDigest, updateState} from './corpus.mjs'
import {median, render} from './report.mjs'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const ROOT = path.resolve(HERE, '../..')
const PASSPHRASE = 'bench-only-passphrase'

const {values: opt} = parseArgs({
  options: {
    profile: {type: 'string', default: 'full'},
    corpora: {type: 'string'},
    rounds: {type: 'string', default: '3'},
    tools: {type: 'string', default: 'plakar,restic,borg'},
    dir: {type: 'string'},
    plakar: {type: 'string'},
    out: {type: 'string'},
    'no-drop-caches': {type: 'boolean', default: false},
    'no-install': {type: 'boolean', default: false},
    'no-verify': {type: 'boolean', default: false},
    keep: {type: 'boolean', default: false},
  },
})

const profile = opt.profile
const corpora = (opt.corpora ?? DEFAULT_SETS.join(',')).split(',').filter(Boolean)
const tools = opt.tools.split(',').filter(Boolean)
const rounds = Number(opt.rounds)
for (const c of corpora) if (!SETS.includes(c)) fail(`unknown corpus ${c} (${SETS.join(', ')})`)
for (const t of tools) if (!['plakar', 'restic', 'borg'].includes(t)) fail(`unknown tool ${t}`)
if (!tools.includes('plakar')) fail('--tools must include plakar')
if (!(rounds >= 1)) fail('--rounds must be at least 1')
const benchDir = path.resolve(opt.dir ?? process.env.PLAKAR_BENCH_DIR ?? path.join(os.homedir(), '.cache', 'plakar-bench'))
const corpusDir = path.join(benchDir, 'corpora')
const work = path.join(benchDir, 'work')
const plakarBin = path.resolve(opt.plakar ?? path.join(ROOT, 'bin', 'run.js'))
const nodeArgs = (process.env.PLAKAR_BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean)

function fail(msg) {
  process.stderr.write(`bench: ${msg}\n`)
  process.exit(2)
}
const say = (msg) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`)
const load1 = () => Number(fs.readFileSync('/proc/loadavg', 'utf8').split(' ')[0])
const sh = (cmd, args, o = {}) => spawnSync(cmd, args, {encoding: 'utf8', ...o})
const firstLine = (s) => (s ?? '').trim().split('\n')[0]

// ---------------------------------------------------------------------------------------------
// Peers and GNU time
if (!fs.existsSync('/usr/bin/time')) fail('GNU time (/usr/bin/time, Debian package "time") is needed for peak RSS')
const peers = tools.filter((t) => t !== 'plakar')
const missing = peers.filter((t) => sh('sh', ['-c', `command -v ${t}`]).status !== 0)
if (missing.length) {
  if (opt['no-install']) fail(`missing: ${missing.join(', ')} (run test/bench/install-peers.sh)`)
  const r = sh('bash', [path.join(HERE, 'install-peers.sh')], {stdio: 'inherit'})
  if (r.status !== 0) fail('installing the peers failed')
}
if (!fs.existsSync(plakarBin)) fail(`no plakar CLI at ${plakarBin}`)
if (!fs.existsSync(path.join(path.dirname(plakarBin), '..', 'core', 'cli', 'dist'))) fail('plakar is not built: npm run build')

// ---------------------------------------------------------------------------------------------
// Page cache
let dropCaches = !opt['no-drop-caches']
let dropCachesNote = opt['no-drop-caches'] ? '--no-drop-caches' : undefined
function coldCache() {
  if (!dropCaches) return
  sh('sync', [])
  try {
    fs.writeFileSync('/proc/sys/vm/drop_caches', '3')
  } catch (e) {
    dropCaches = false
    dropCachesNote = `cannot write /proc/sys/vm/drop_caches: ${e.code ?? e.message}`
    say(`page cache not dropped: ${dropCachesNote}`)
  }
}

// ---------------------------------------------------------------------------------------------
// Tools: each returns the commands of a step; `dirs` holds the repository and cache of one
// (corpus, round, tool).
const baseEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^(PLAKAR_|RESTIC_|BORG_|XDG_CONFIG_HOME|XDG_CACHE_HOME|NODE_OPTIONS)/.test(k)),
)
const env = (extra) => ({...baseEnv, HOME: path.join(work, 'home'), LC_ALL: 'C.UTF-8', ...extra})

const TOOLS = {
  plakar: {
    base: (d) => [process.execPath, [...nodeArgs, plakarBin, '--cache-dir', d.cache, '--config-dir', path.join(d.cache, 'config'), '--quiet', 'at', d.repo]],
    env: () => env({PLAKAR_PASSPHRASE: PASSPHRASE}),
    init(d) { const [c, a] = this.base(d); return {cmd: c, args: [...a, 'create']} },
    backup(d, src) { const [c, a] = this.base(d); return {cmd: c, args: [...a, 'backup', '--json', src]} },
    restore(d, _label, target) { const [c, a] = this.base(d); return {cmd: c, args: [...a, 'restore', '--json', '--to', target], restored: () => target} },
    check(d) { const [c, a] = this.base(d); return {cmd: c, args: [...a, 'check', '--json']} },
  },
  restic: {
    base: (d) => ['restic', ['--repo', d.repo, '--cache-dir', d.cache, '--quiet']],
    env: () => env({RESTIC_PASSWORD: PASSPHRASE}),
    init(d) { const [c, a] = this.base(d); return {cmd: c, args: [...a, 'init']} },
    backup(d, src) { const [c, a] = this.base(d); return {cmd: c, args: [...a, 'backup', src]} },
    restore(d, _label, target, src) { const [c, a] = this.base(d); return {cmd: c, args: [...a, 'restore', 'latest', '--target', target], restored: () => path.join(target, src)} },
    check(d) { const [c, a] = this.base(d); return {cmd: c, args: [...a, 'check', '--read-data']} },
  },
  borg: {
    env: (d) => env({BORG_PASSPHRASE: PASSPHRASE, BORG_BASE_DIR: d.cache, BORG_RELOCATED_REPO_ACCESS_IS_OK: 'yes'}),
    init(d) { return {cmd: 'borg', args: ['init', '--encryption=repokey-blake2', d.repo]} },
    backup(d, src, label) { return {cmd: 'borg', args: ['create', '--compression', 'zstd,3', `${d.repo}::${label}`, src]} },
    restore(d, label, target, src) {
      fs.mkdirSync(target, {recursive: true})
      return {cmd: 'borg', args: ['extract', `${d.repo}::${label}`], cwd: target, restored: () => path.join(target, src)}
    },
    check(d) { return {cmd: 'borg', args: ['check', '--verify-data', d.repo]} },
  },
}

function toolVersion(tool) {
  if (tool === 'plakar') {
    const frozen = path.join(path.dirname(plakarBin), '..', '.bench-commit')
    if (fs.existsSync(frozen)) {
      return `${firstLine(sh(process.execPath, [plakarBin, 'version']).stdout).replace(/^plakar /, '')}, commit ${fs.readFileSync(frozen, 'utf8').trim()} (frozen build, test/bench/build-snapshot.sh)`
    }
    const git = sh('git', ['-C', path.dirname(plakarBin), 'rev-parse', '--short', 'HEAD']).stdout.trim()
    const dirty = sh('git', ['-C', path.dirname(plakarBin), 'status', '--porcelain', '--', '../core', '../plugins']).stdout.trim()
    return `${firstLine(sh(process.execPath, [plakarBin, 'version']).stdout).replace(/^plakar /, '')}, commit ${git || '?'}${dirty ? ' + uncommitted changes in core/ or plugins/' : ''}`
  }
  if (tool === 'restic') return firstLine(sh('restic', ['version']).stdout)
  return firstLine(sh('borg', ['--version']).stdout)
}

// ---------------------------------------------------------------------------------------------
// Running one measured command
const records = []
let runSeq = 0

async function measure(ctx, tool, op, spec) {
  const logBase = path.join(work, 'logs', `${String(++runSeq).padStart(4, '0')}-${ctx.corpus}-r${ctx.round}-${tool}-${op}`)
  fs.mkdirSync(path.dirname(logBase), {recursive: true})
  const out = fs.openSync(`${logBase}.out`, 'w')
  const err = fs.openSync(`${logBase}.err`, 'w')
  const record = {corpus: ctx.corpus, round: ctx.round, tool, op, load1: load1()}
  const t0 = process.hrtime.bigint()
  const code = await new Promise((resolve) => {
    const child = spawn('/usr/bin/time', ['-f', '%e %U %S %M', '-o', `${logBase}.time`, spec.cmd, ...spec.args], {
      cwd: spec.cwd ?? work,
      env: spec.env,
      stdio: ['ignore', out, err],
    })
    child.on('error', () => resolve(-1))
    child.on('exit', (c, sig) => resolve(c ?? `signal ${sig}`))
  })
  record.wall = Number(process.hrtime.bigint() - t0) / 1e9
  fs.closeSync(out)
  fs.closeSync(err)
  const timeLine = fs.existsSync(`${logBase}.time`) ? fs.readFileSync(`${logBase}.time`, 'utf8').trim().split('\n').at(-1) : ''
  const [, user, sys, rss] = timeLine.split(' ').map(Number)
  Object.assign(record, {code, ok: code === 0, user, sys, rssKiB: Number.isFinite(rss) ? rss : undefined})
  if (!record.ok) record.error = fs.readFileSync(`${logBase}.err`, 'utf8').trim().split('\n').slice(-3).join(' | ')
  records.push(record)
  say(`${ctx.corpus} r${ctx.round} ${tool.padEnd(6)} ${op.padEnd(13)} ${record.ok ? 'ok ' : `FAILED (exit ${code})`} ${record.wall.toFixed(2)} s, ${((record.rssKiB ?? 0) / 1024).toFixed(0)} MiB, load ${record.load1}`)
  return record
}

function dirsOf(ctx, tool) {
  const base = path.join(work, `${ctx.corpus}-r${ctx.round}`, tool)
  return {repo: path.join(base, 'repo'), cache: path.join(base, 'cache')}
}

/** Creates every tool's repository (not timed, but a failure is recorded). */
async function initAll(ctx, order) {
  for (const tool of order) {
    const d = dirsOf(ctx, tool)
    fs.mkdirSync(d.cache, {recursive: true})
    await measure(ctx, tool, 'init', {...TOOLS[tool].init(d), env: TOOLS[tool].env(d)})
  }
}

async function backupStep(ctx, order, op, src, label, {cold = true} = {}) {
  for (const tool of order) {
    const d = dirsOf(ctx, tool)
    if (cold) coldCache()
    const rec = await measure(ctx, tool, op, {...TOOLS[tool].backup(d, src, label), env: TOOLS[tool].env(d)})
    rec.repoBytes = dirBytes(d.repo)
  }
}

async function restoreStep(ctx, order, src, label, digest) {
  for (const tool of order) {
    const d = dirsOf(ctx, tool)
    const target = path.join(work, `${ctx.corpus}-r${ctx.round}`, `restore-${tool}`)
    fs.rmSync(target, {recursive: true, force: true})
    const spec = TOOLS[tool].restore(d, label, target, src)
    coldCache()
    const rec = await measure(ctx, tool, 'restore', {...spec, env: TOOLS[tool].env(d)})
    if (rec.ok && digest) {
      const got = fs.existsSync(spec.restored()) ? await treeDigest(spec.restored()) : 'nothing restored'
      if (got !== digest) {
        rec.ok = false
        rec.error = `the restored tree differs from the source (${spec.restored()})`
        say(`${tool} restore: ${rec.error}`)
      }
    }
    if (!opt.keep) fs.rmSync(target, {recursive: true, force: true})
  }
}

async function checkStep(ctx, order) {
  for (const tool of order) {
    const d = dirsOf(ctx, tool)
    coldCache()
    await measure(ctx, tool, 'check', {...TOOLS[tool].check(d), env: TOOLS[tool].env(d)})
  }
}

// ---------------------------------------------------------------------------------------------
// What each corpus measures
const PLANS = {
  async versions(ctx, order, set) {
    const staging = path.join(work, 'src', 'versions', 'package')
    await initAll(ctx, order)
    const versions = fs.readdirSync(set.path).sort()
    for (const [i, v] of versions.entries()) {
      // The same path holds each release in turn, as a tree that gets upgraded in place.
      fs.rmSync(staging, {recursive: true, force: true})
      fs.cpSync(path.join(set.path, v), staging, {recursive: true, verbatimSymlinks: true, preserveTimestamps: true})
      await backupStep(ctx, order, `backup-v${String(i + 1).padStart(2, '0')}`, staging, `v${i + 1}`, {cold: false})
    }
  },

  async mixed(ctx, order, set) {
    await PLANS.tree(ctx, order, set)
  },
  async 'source-tree'(ctx, order, set) {
    await PLANS.tree(ctx, order, set)
  },
  async 'many-small'(ctx, order, set) {
    await PLANS.tree(ctx, order, set)
  },

  async tree(ctx, order, set) {
    await initAll(ctx, order)
    await backupStep(ctx, order, 'backup', set.path, 'first')
    await backupStep(ctx, order, 'rebackup', set.path, 'second')
    await restoreStep(ctx, order, set.path, 'second', set.digest)
    await checkStep(ctx, order)
  },

  async 'big-random'(ctx, order, set) {
    const dir = path.join(work, 'src', 'big')
    const file = path.join(dir, 'big.bin')
    fs.rmSync(dir, {recursive: true, force: true})
    fs.mkdirSync(dir, {recursive: true})
    fs.linkSync(path.join(set.path, 'a.bin'), file)
    await initAll(ctx, order)
    await backupStep(ctx, order, 'backup', dir, 'first')
    // The edited copy takes the original's place under the same name.
    fs.rmSync(file)
    fs.linkSync(path.join(set.path, 'b.bin'), file)
    await backupStep(ctx, order, 'backup-edited', dir, 'edited')
  },

  async million(ctx, order, set) {
    await initAll(ctx, order)
    await backupStep(ctx, order, 'backup', set.path, 'first')
    await backupStep(ctx, order, 'rebackup', set.path, 'second')
  },
}

// ---------------------------------------------------------------------------------------------
function machine() {
  const mem = fs.readFileSync('/proc/meminfo', 'utf8')
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(mem)?.[1] ?? 0) * 1024
  fs.mkdirSync(benchDir, {recursive: true})
  const df = sh('df', ['-h', '--output=source,fstype,size,avail', benchDir]).stdout.trim().split('\n').at(-1)?.trim().split(/\s+/) ?? []
  const dev = path.basename(df[0] ?? '')
  const rot = fs.existsSync(`/sys/block/${dev}/queue/rotational`) ? fs.readFileSync(`/sys/block/${dev}/queue/rotational`, 'utf8').trim() : '?'
  const detect = (flag) => {
    const v = firstLine(sh('systemd-detect-virt', [flag]).stdout)
    return v && v !== 'none' ? v : ''
  }
  const vm = detect('--vm') || (fs.readFileSync('/proc/cpuinfo', 'utf8').includes(' hypervisor') ? 'a hypervisor' : '')
  const container = detect('--container')
  const where = [vm && `virtual machine: ${vm}`, container && `container: ${container}`].filter(Boolean).join(', ')
  return {
    cpu: `${os.cpus()[0]?.model ?? '?'}${where ? ` (${where})` : ''}`,
    nproc: os.availableParallelism(),
    ramBytes: os.totalmem(),
    memAvailableBytes: kb('MemAvailable'),
    kernel: os.release(),
    disk: `${df[0]} (${df[1]}, ${df[2]}, ${df[3]} free, rotational=${rot}) holding ${benchDir}`,
  }
}

function defaultOut(date) {
  if (profile !== 'full') return path.join(benchDir, `report-${profile}.md`)
  const dir = path.join(HERE, 'results')
  const base = `${date.slice(0, 10)}-${os.hostname()}`
  let name = `${base}.md`
  for (let i = 2; fs.existsSync(path.join(dir, name)); i++) name = `${base}-${i}.md`
  return path.join(dir, name)
}

async function main() {
  const started = new Date()
  const date = started.toISOString()
  const outMd = path.resolve(opt.out ?? defaultOut(date))
  const outJson = outMd.replace(/\.md$/, '') + '.json'
  fs.rmSync(work, {recursive: true, force: true})
  fs.mkdirSync(path.join(work, 'home'), {recursive: true})

  const loadSamples = [load1()]
  const sampler = setInterval(() => loadSamples.push(load1()), 10_000)
  const meta = {
    date,
    host: os.hostname(),
    profile,
    rounds,
    tools,
    corpora,
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim().replace(/ --$/, ''),
    rawFile: path.relative(path.dirname(outMd), outJson),
    machine: machine(),
    versions: {node: `node ${process.version}`, ...Object.fromEntries(tools.map((t) => [t, toolVersion(t)]))},
    settings: [
      'encryption on for all three: plakar\'s default (Argon2id-wrapped key, keyed-MAC chunk ids, per-blob AEAD); restic\'s only mode (AES-256-CTR + Poly1305); borg `repokey-blake2` (AES-256-CTR + BLAKE2b MAC)',
      'compression: plakar default (zstd level 3); restic default `auto` (zstd at its default level, i.e. zstd level 3); borg `zstd,3` — the same codec and level for all three, so that repository sizes compare chunking and packing, not codecs (borg\'s default, lz4, would trade size for speed)',
      'chunking: each tool\'s default (plakar FastCDC 128 KiB/512 KiB/4 MiB; restic Rabin 512 KiB–8 MiB, ≈1 MiB average; borg buzhash 512 KiB–8 MiB, ≈2 MiB average)',
      'each tool keeps its cache as in normal use (plakar `--cache-dir`, restic `--cache-dir`, `BORG_BASE_DIR`), fresh for every round; repositories and caches on the same disk as the corpora',
      'restore: plakar `restore --to DIR` of the latest snapshot, `restic restore latest --target DIR`, `borg extract` of the second archive; each restored tree is compared byte for byte (content, names, link targets) with its source, untimed',
      'check: plakar `check` (full: re-reads and re-MACs every chunk), `restic check --read-data`, `borg check --verify-data`',
      'versions: each release is copied in turn into the same directory (new inodes, so every tool re-reads every file) and backed up; big-random: `big.bin` is a hard link to the 2 GiB file, then to its edited copy, under the same name',
    ],
    notes: [],
  }
  meta.load = {start: loadSamples[0]}
  say(`profile ${profile}, ${rounds} round(s), tools ${tools.join(', ')}, corpora ${corpora.join(', ')}; load ${loadSamples[0]}`)

  const writeOut = () => {
    const end = new Date()
    meta.endDate = end.toISOString()
    meta.elapsedSeconds = (end - started) / 1000
    meta.dropCaches = dropCaches
    if (dropCachesNote) meta.dropCachesNote = dropCachesNote
    meta.load = {
      start: loadSamples[0],
      end: load1(),
      min: Math.min(...loadSamples),
      max: Math.max(...loadSamples),
      median: Number(median(loadSamples).toFixed(2)),
      samples: loadSamples.length,
    }
    const raw = {meta, records, loadSamples}
    fs.mkdirSync(path.dirname(outMd), {recursive: true})
    fs.writeFileSync(outJson, JSON.stringify(raw, null, 1))
    fs.writeFileSync(outMd, render(raw))
  }

  meta.corpusInfo = {}
  for (const corpus of corpora) {
    const set = await ensureSet(corpus, {profile, dir: corpusDir})
    const needsDigest = !opt['no-verify'] && ['mixed', 'source-tree', 'many-small'].includes(corpus)
    if (needsDigest && !set.digest) {
      say(`${corpus}: digest of the source tree (for restore checks)`)
      set.digest = await treeDigest(set.path)
      updateState(corpus, {profile, dir: corpusDir}, {digest: set.digest})
    }
    meta.corpusInfo[corpus] = {files: set.files, bytes: set.bytes, dirs: set.dirs, links: set.links, ...(set.versions ? {note: set.versions.join(', ')} : {}), ...(set.debMismatches?.length ? {note: `Debian versions differ from the pins: ${set.debMismatches.join('; ')}`} : {})}
    for (let round = 1; round <= rounds; round++) {
      // Rotate the order every round: plakar first, then second, then last.
      const order = tools.map((_, i) => tools[(i + round - 1) % tools.length])
      const ctx = {corpus, round}
      say(`${corpus} round ${round}/${rounds}: ${order.join(' → ')}`)
      await PLANS[corpus](ctx, order, set)
      if (!opt.keep) {
        fs.rmSync(path.join(work, `${corpus}-r${round}`), {recursive: true, force: true})
        fs.rmSync(path.join(work, 'src'), {recursive: true, force: true})
      }
      writeOut()
    }
  }
  clearInterval(sampler)
  if (!dropCaches) meta.notes.push('The page cache was not dropped: backups, restores and checks may read from memory.')
  const lowest = Math.min(...loadSamples)
  if (lowest > os.availableParallelism()) {
    meta.notes.push(`The load average never fell to the number of cores (${os.availableParallelism()}) during the run (lowest ${lowest}): other work shared the machine, so absolute times are inflated; the tools ran in alternation and met the same load on average.`)
  }
  writeOut()
  say(`report: ${outMd}`)
  process.stdout.write(`${outMd}\n`)
}

main().catch((e) => {
  process.stderr.write(`bench: ${e.stack ?? e}\n`)
  process.exit(1)
})
