// Micro-benchmarks behind the defaults of the repository format (issue 5, "choices by
// measurement"): MAC, compression codec and level, chunk sizes. One thread, in process, on
// this machine's CPU; the sizes that chunking choices lead to are measured with the real CLI by
// test/bench/chunk-sizes.mjs.
//
//   node test/bench/choices.mjs mac          [--seconds 1] [--repeats 5]
//   node test/bench/choices.mjs compression  [--corpora mixed,versions] [--repeats 3]
//   node test/bench/choices.mjs chunking     [--corpora mixed,versions] [--repeats 3]
//   node test/bench/choices.mjs seal         [--seconds 1] [--repeats 5]   (compare builds with --root)
//
// Common options: --dir DIR (bench root, as for run.mjs: corpora in DIR/corpora/full),
// --root DIR (the plakar checkout or frozen build whose core/engine/dist is measured; default this
// checkout), --json FILE (raw results). Each part prints Markdown tables on stdout, with the load
// average at start and end: run it when the machine is quiet.
//
// What is measured, and how it mirrors the engine:
// - mac: keyed BLAKE3 through @napi-rs/blake-hash exactly as core/engine/src/crypto/mac.ts calls it (a
//   new keyed hasher per message), BLAKE3 keyed through hash-wasm (WebAssembly; one hasher
//   re-initialised per message, its fastest use), HMAC-SHA256 through node:crypto (a new Hmac
//   per message). Random input; throughput = message bytes / time; median of the repeats, each
//   repeat a timed loop of --seconds per implementation and size, implementations interleaved.
// - compression: every file of the corpus is cut by the engine's own Chunker (default
//   the measured build's DEFAULT_CHUNKING, read in 4 MiB pieces as the chunk workers do), and every chunk is
//   compressed as core/engine/src/format/compression.ts does: zstd-napi's raw binding, one CCtx and one
//   scratch buffer reused, chunks under 64 bytes and chunks that do not shrink stored as they
//   are. lz4-napi has no call that writes into a caller's buffer: compressSync returns a fresh
//   Buffer per chunk, which is what a plakar using it would pay. Chunks are processed in
//   batches of 64 MiB, each codec over the whole batch in turn (so no codec gets another's warm
//   cache), and each call is timed on its own to split the time by kind of file. Decompression
//   is timed too (zstd into a reused buffer, lz4 uncompressSync). Ratio = stored ÷ original.
// - chunking: the engine's Chunker over every file of the corpus (files from the page cache,
//   read time excluded), for each candidate MIN/AVG/MAX; chunk count and mean size; on the
//   versions corpus also the unique chunk bytes over the ten versions (chunks identified by
//   BLAKE3), a first estimate of dedup before the CLI measures real repository sizes.
import {createHash, createHmac, randomBytes} from 'node:crypto'
import fs from 'node:fs'
import {createRequire} from 'node:module'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'
import {parseArgs} from 'node:util'
import {meter, waitQuiet} from './quiet.mjs'
import {median} from './report.mjs'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const ROOT = path.resolve(HERE, '../..')

const {values: opt, positionals} = parseArgs({
  options: {
    dir: {type: 'string'},
    root: {type: 'string'},
    corpora: {type: 'string'},
    repeats: {type: 'string', default: '3'},
    seconds: {type: 'string', default: '1'},
    json: {type: 'string'},
    configs: {type: 'string'},
    'max-others': {type: 'string', default: '0.3'},
  },
  allowPositionals: true,
})
const part = positionals[0]
const benchDir = path.resolve(opt.dir ?? process.env.PLAKAR_BENCH_DIR ?? path.join(os.homedir(), '.cache', 'plakar-bench'))
const corpusRoot = path.join(benchDir, 'corpora', 'full')
const root = path.resolve(opt.root ?? ROOT)
const repeats = Number(opt.repeats)
const requireHere = createRequire(path.join(ROOT, 'package.json'))
const requireCore = createRequire(path.join(root, 'core', 'engine', 'package.json'))

const load1 = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')
const say = (msg) => process.stderr.write(`[choices ${new Date().toISOString().slice(11, 19)}] ${msg}\n`)
const now = () => process.hrtime.bigint()
const gbps = (bytes, ns) => (ns > 0 ? bytes / Number(ns) : 0) // bytes per ns = GB/s
const fmt = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '–')
const MiB = 1024 * 1024
const KiB = 1024

/** Default chunking of new repositories, from the measured build's core/engine/dist/format/config.js. */
const {DEFAULT_CHUNKING} = await core('format/config.js')
const CANDIDATES = (opt.configs ?? '65536:262144:2097152,131072:524288:4194304,262144:1048576:8388608,524288:2097152:8388608')
  .split(',')
  .map((s) => s.split(':').map(Number))
  .map(([min, avg, max]) => ({min, avg, max}))
const label = (c) => `${c.min / KiB}K/${c.avg >= MiB ? `${c.avg / MiB}M` : `${c.avg / KiB}K`}/${c.max / MiB}M`

/**
 * Runs one repeat on a quiet machine: waits until other processes use less than --max-others
 * cores, runs it, and runs it again (twice at most) if others used more than that meanwhile.
 * Returns the result of the last attempt; `quiet` collects what each kept repeat met.
 */
const quiet = []
async function quietly(what, fn) {
  const maxCores = Number(opt['max-others'])
  for (let attempt = 1; ; attempt++) {
    const before = await waitQuiet({maxCores, say})
    const m = meter()
    const result = await fn()
    const others = m()
    if (others <= maxCores || attempt === 3) {
      quiet.push({what, attempt, othersBefore: before.othersCores, othersDuring: Number(others.toFixed(2)), load1: before.load1})
      return result
    }
    say(`${what}: other processes used ${others.toFixed(2)} cores meanwhile; again`)
  }
}
const quietNote = () => {
  const during = quiet.map((q) => q.othersDuring)
  return `other processes used at most ${Math.max(...during).toFixed(2)} cores during a kept repeat (median ${median(during).toFixed(2)})`
}

async function core(mod) {
  return import(pathToFileURL(path.join(root, 'core', 'engine', 'dist', mod)).href)
}

// ---------------------------------------------------------------------------------------------
// Corpus walking and classification

/** Every regular file under dir, sorted (deterministic order). */
function listFiles(dir) {
  const out = []
  const walk = (d) => {
    const entries = fs.readdirSync(d, {withFileTypes: true}).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    for (const e of entries) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else if (e.isFile()) out.push(p)
    }
  }
  walk(dir)
  return out
}

const IMAGE_EXT = new Set(['.png', '.jpg', '.jpeg', '.gif', '.webp', '.ico', '.bmp', '.tif', '.tiff'])
const PACKED_EXT = new Set(['.woff', '.woff2', '.ttf', '.otf', '.gz', '.xz', '.bz2', '.zst', '.zip', '.jar', '.jmod', '.br', '.pdf', '.bcmap'])

/**
 * Kind of a file from its first bytes and its name: images; already-compressed formats (fonts,
 * archives, Java modules); machine code and other binaries (ELF, ar archives of objects, wasm);
 * text (no NUL in the first 8 KiB); anything else is "other binary data".
 */
function kindOf(file, head) {
  const ext = path.extname(file).toLowerCase()
  if (IMAGE_EXT.has(ext)) return 'images'
  if (PACKED_EXT.has(ext)) return 'compressed formats'
  if (head.length >= 4 && head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c && head[3] === 0x46) return 'executables, libraries'
  if (head.subarray(0, 8).toString('latin1') === '!<arch>\n') return 'executables, libraries'
  if (head.length >= 4 && head[0] === 0 && head[1] === 0x61 && head[2] === 0x73 && head[3] === 0x6d) return 'executables, libraries'
  if (ext === '.node' || ext === '.so' || ext === '.a') return 'executables, libraries'
  if (!head.subarray(0, 8192).includes(0)) return 'text'
  return 'other binary'
}

const corpusPath = (name) => {
  const p = path.join(corpusRoot, name)
  if (!fs.existsSync(p)) throw new Error(`no corpus at ${p}: build it with node test/bench/corpus.mjs ${name}`)
  return p
}

/** Yields {file, kind, data} for every file of a corpus, read whole (page cache after the first pass). */
function* readCorpus(name) {
  for (const file of listFiles(corpusPath(name))) {
    const data = fs.readFileSync(file)
    yield {file, kind: kindOf(file, data.subarray(0, 8192)), data}
  }
}

const READ_PIECE = 4 * MiB
/** Cuts data as a chunk worker does: pushed in 4 MiB pieces, then end(). */
function cut(chunker, data, onChunk) {
  chunker.reset()
  for (let off = 0; off < data.length; off += READ_PIECE) {
    for (const c of chunker.push(data.subarray(off, Math.min(off + READ_PIECE, data.length)))) onChunk(c)
  }
  const last = chunker.end()
  if (last) onChunk(last)
}

/** A fixed gear table: the benchmark needs a repository-like key, not a secret one. */
async function gear() {
  const {gearTable} = await core('chunking/fastcdc.js')
  return gearTable(Buffer.alloc(32, 7))
}

// ---------------------------------------------------------------------------------------------
// MAC

async function macPart() {
  const {Blake3Hasher} = requireCore('@napi-rs/blake-hash')
  const {createBLAKE3} = await import(pathToFileURL(requireHere.resolve('hash-wasm')).href)
  const key = randomBytes(32)
  const wasm = await createBLAKE3(256, key)
  const reused = Blake3Hasher.newKeyed(key)
  const impls = {
    'BLAKE3 keyed, native (@napi-rs/blake-hash; core/engine/src/crypto/mac.ts)': (m) => {
      const h = Blake3Hasher.newKeyed(key)
      h.update(m)
      return h.digestBuffer()
    },
    'BLAKE3 keyed, native, one hasher reset() per message': (m) => {
      reused.reset()
      reused.update(m)
      return reused.digestBuffer()
    },
    'BLAKE3 keyed, WebAssembly (hash-wasm)': (m) => {
      wasm.init()
      wasm.update(m)
      return wasm.digest('binary')
    },
    'HMAC-SHA256 (node:crypto, SHA-NI)': (m) => createHmac('sha256', key).update(m).digest(),
  }
  // The BLAKE3 variants must agree (same key, same message); every MAC is 32 bytes.
  const probe = randomBytes(5000)
  const ref = impls[Object.keys(impls)[0]](probe)
  for (const [name, f] of Object.entries(impls)) {
    const d = Buffer.from(f(probe))
    if (d.length !== 32) throw new Error(`${name}: not 32 bytes`)
    if (name.startsWith('BLAKE3') && !d.equals(ref)) throw new Error(`${name}: differs from the native keyed BLAKE3`)
  }
  const sizes = [{name: '1 MiB', n: MiB, count: 16}, {name: '4 KiB', n: 4 * KiB, count: 4096}]
  const seconds = Number(opt.seconds)
  const results = {}
  const loadStart = load1()
  for (let r = 0; r < repeats; r++) {
    const one = {}
    await quietly(`mac repeat ${r + 1}`, () => {
    for (const size of sizes) {
      // Distinct messages, so a run does not keep hashing one buffer sitting in L1.
      const msgs = Array.from({length: size.count}, () => randomBytes(size.n))
      const names = Object.keys(impls)
      const order = names.map((_, i) => names[(i + r) % names.length])
      for (const name of order) {
        const f = impls[name]
        for (let i = 0; i < Math.min(size.count, 64); i++) f(msgs[i]) // warm-up
        let bytes = 0
        let calls = 0
        const cpu0 = process.cpuUsage()
        const t0 = now()
        const limit = BigInt(Math.round(seconds * 1e9))
        let t = t0
        while (t - t0 < limit) {
          for (let i = 0; i < size.count; i++) f(msgs[i])
          bytes += size.n * size.count
          calls += size.count
          t = now()
        }
        const ns = Number(t - t0)
        const cpu = process.cpuUsage(cpu0)
        // CPU time ÷ wall time: above 1 would mean the library used more than this thread.
        const cpuShare = ((cpu.user + cpu.system) * 1000) / ns
        ;(one[name] ??= {})[size.name] = {gbps: bytes / ns, nsPerCall: ns / calls, cpuShare}
      }
    }
    })
    for (const [name, bySize] of Object.entries(one)) for (const [size, x] of Object.entries(bySize)) ((results[name] ??= {})[size] ??= []).push(x)
    say(`mac: repeat ${r + 1}/${repeats} done, load ${load1()}`)
  }
  const loadEnd = load1()
  const lines = [
    `MAC throughput, one thread, median of ${repeats} repeats of ${seconds} s per implementation and size (load ${loadStart} → ${loadEnd}; ${quietNote()}):`,
    '',
    '| implementation | 1 MiB messages | 4 KiB messages | per 4 KiB message | CPU ÷ wall |',
    '|---|---:|---:|---:|---:|',
  ]
  for (const [name, bySize] of Object.entries(results)) {
    const big = median(bySize['1 MiB'].map((x) => x.gbps))
    const small = median(bySize['4 KiB'].map((x) => x.gbps))
    const call = median(bySize['4 KiB'].map((x) => x.nsPerCall))
    const share = Math.max(...Object.values(bySize).flat().map((x) => x.cpuShare))
    lines.push(`| ${name} | ${fmt(big)} GB/s | ${fmt(small)} GB/s | ${fmt(call / 1000)} µs | ≤ ${fmt(share)} |`)
  }
  return {lines, raw: {loadStart, loadEnd, results}}
}

// ---------------------------------------------------------------------------------------------
// Compression

function codecs() {
  const z = requireCore('zstd-napi/binding')
  const lz4 = requireHere('lz4-napi')
  const cctx = new z.CCtx()
  const dctx = new z.DCtx()
  let scratch = Buffer.allocUnsafe(16 * MiB)
  let plain = Buffer.allocUnsafe(16 * MiB)
  const zstd = (level) => ({
    name: `zstd ${level}`,
    compress(data) {
      const bound = z.compressBound(data.length)
      if (scratch.length < bound) scratch = Buffer.allocUnsafe(bound)
      const n = cctx.compress(scratch, data, level)
      // The engine copies the result out of its scratch buffer into the sealed frame; so do we.
      return Buffer.from(scratch.subarray(0, n))
    },
    decompress(comp, rawLength) {
      if (plain.length < rawLength) plain = Buffer.allocUnsafe(rawLength)
      return dctx.decompress(plain.subarray(0, rawLength), comp)
    },
  })
  return [
    zstd(1),
    zstd(3),
    zstd(6),
    {
      name: 'lz4 (lz4-napi)',
      compress: (data) => lz4.compressSync(data),
      decompress: (comp) => lz4.uncompressSync(comp).length,
    },
  ]
}

async function compressionPart() {
  const {Chunker} = await core('chunking/fastcdc.js')
  const chunker = new Chunker(DEFAULT_CHUNKING, await gear())
  const list = codecs()
  const corpora = (opt.corpora ?? 'mixed,versions').split(',')
  const BATCH = 64 * MiB
  // stats[corpus][kind][codec] = {raw, stored, cns: [per repeat], dns: [per repeat]}
  const stats = {}
  const loadStart = load1()
  for (const corpus of corpora) {
    const perRepeat = []
    for (let r = 0; r < repeats; r++) {
      const acc = await quietly(`compression ${corpus} repeat ${r + 1}`, () => {
      const acc = {} // kind -> codec -> {raw, stored, cns, dns}
      let batch = []
      let batchBytes = 0
      const runBatch = () => {
        const order = list.map((_, i) => list[(i + r) % list.length])
        for (const codec of order) {
          for (const {kind, chunk} of batch) {
            const a = ((acc[kind] ??= {})[codec.name] ??= {raw: 0, stored: 0, cns: 0, dns: 0, chunks: 0})
            a.raw += chunk.length
            a.chunks++
            if (chunk.length < 64) {
              a.stored += chunk.length
              continue
            }
            const t0 = now()
            const comp = codec.compress(chunk)
            const t1 = now()
            a.cns += Number(t1 - t0)
            if (comp.length >= chunk.length) {
              a.stored += chunk.length // stored as it is (codec 0): nothing to decompress
              continue
            }
            a.stored += comp.length
            const t2 = now()
            const n = codec.decompress(comp, chunk.length)
            a.dns += Number(now() - t2)
            if (n !== chunk.length) throw new Error(`${codec.name}: round trip gave ${n} bytes, not ${chunk.length}`)
          }
        }
        batch = []
        batchBytes = 0
      }
      for (const {kind, data} of readCorpus(corpus)) {
        cut(chunker, data, (chunk) => {
          batch.push({kind, chunk})
          batchBytes += chunk.length
        })
        if (batchBytes >= BATCH) runBatch()
      }
      runBatch()
      return acc
      })
      perRepeat.push(acc)
      say(`compression: ${corpus} repeat ${r + 1}/${repeats}, load ${load1()}`)
    }
    // Merge: sizes from the first repeat (deterministic), times as medians over repeats.
    stats[corpus] = {}
    for (const kind of Object.keys(perRepeat[0])) {
      stats[corpus][kind] = {}
      for (const c of list) {
        const first = perRepeat[0][kind][c.name]
        stats[corpus][kind][c.name] = {
          raw: first.raw,
          stored: first.stored,
          chunks: first.chunks,
          cgbps: median(perRepeat.map((a) => gbps(a[kind][c.name].raw, a[kind][c.name].cns))),
          dgbps: median(perRepeat.map((a) => gbps(a[kind][c.name].raw, a[kind][c.name].dns))),
          cns: perRepeat.map((a) => a[kind][c.name].cns),
          dns: perRepeat.map((a) => a[kind][c.name].dns),
        }
      }
    }
    // Whole-corpus row
    const total = {}
    for (const c of list) {
      const kinds = Object.values(stats[corpus]).map((k) => k[c.name])
      const raw = kinds.reduce((n, k) => n + k.raw, 0)
      const stored = kinds.reduce((n, k) => n + k.stored, 0)
      const cns = perRepeat.map((a) => Object.values(a).reduce((n, k) => n + k[c.name].cns, 0))
      const dns = perRepeat.map((a) => Object.values(a).reduce((n, k) => n + k[c.name].dns, 0))
      total[c.name] = {raw, stored, chunks: kinds.reduce((n, k) => n + k.chunks, 0), cgbps: median(cns.map((ns) => gbps(raw, ns))), dgbps: median(dns.map((ns) => gbps(raw, ns))), cns, dns}
    }
    stats[corpus]['whole corpus'] = total
  }
  const loadEnd = load1()
  const lines = [
    `Compression, one thread, chunks of the default chunker (${label(DEFAULT_CHUNKING)}), median of ${repeats} repeats (load ${loadStart} → ${loadEnd}; ${quietNote()}).`,
    'Ratio = stored ÷ original (chunks that do not shrink count as stored whole); speeds are original bytes per second of codec time.',
    '',
  ]
  for (const corpus of corpora) {
    lines.push(`**${corpus}**`, '', `| files | original | ${list.map((c) => c.name).join(' | ')} |`, `|---|---:|${list.map(() => '---:').join('|')}|`)
    const kinds = Object.keys(stats[corpus]).sort((a, b) => (a === 'whole corpus' ? 1 : b === 'whole corpus' ? -1 : stats[corpus][b][list[0].name].raw - stats[corpus][a][list[0].name].raw))
    for (const kind of kinds) {
      const row = stats[corpus][kind]
      const raw = row[list[0].name].raw
      lines.push(`| ${kind === 'whole corpus' ? '**whole corpus**' : kind} | ${(raw / 1e6).toFixed(0)} MB | ${list.map((c) => `${fmt(row[c.name].stored / raw, 3)} · ${fmt(row[c.name].cgbps)} / ${fmt(row[c.name].dgbps)} GB/s`).join(' | ')} |`)
    }
    lines.push('', 'Each cell: ratio · compression / decompression speed.', '')
  }
  return {lines, raw: {loadStart, loadEnd, stats}}
}

// ---------------------------------------------------------------------------------------------
// Chunking

async function chunkingPart() {
  const {Chunker} = await core('chunking/fastcdc.js')
  const g = await gear()
  const corpora = (opt.corpora ?? 'mixed,versions').split(',')
  const loadStart = load1()
  const out = {}
  for (const corpus of corpora) {
    const files = listFiles(corpusPath(corpus))
    out[corpus] = {}
    for (let r = 0; r < repeats; r++) {
      const order = CANDIDATES.map((_, i) => CANDIDATES[(i + r) % CANDIDATES.length])
      const measured = await quietly(`chunking ${corpus} repeat ${r + 1}`, () => {
        const one = []
        for (const cfg of order) {
          const chunker = new Chunker(cfg, g)
          let ns = 0
          let bytes = 0
          let chunks = 0
          const unique = r === 0 && corpus === 'versions' ? new Map() : undefined
          for (const file of files) {
            const data = fs.readFileSync(file)
            const got = []
            const t0 = now()
            cut(chunker, data, (c) => got.push(c))
            ns += Number(now() - t0)
            bytes += data.length
            chunks += got.length
            if (unique) for (const c of got) unique.set(createHash('sha256').update(c).digest('hex'), c.length)
          }
          one.push({cfg, bytes, chunks, ns, unique})
        }
        return one
      })
      for (const {cfg, bytes, chunks, ns, unique} of measured) {
        const o = (out[corpus][label(cfg)] ??= {cfg, bytes, chunks, gbps: []})
        o.gbps.push(gbps(bytes, ns))
        if (unique) {
          o.uniqueChunks = unique.size
          o.uniqueBytes = [...unique.values()].reduce((n, x) => n + x, 0)
        }
      }
      say(`chunking: ${corpus} repeat ${r + 1}/${repeats}, load ${load1()}`)
    }
  }
  const loadEnd = load1()
  const lines = [
    `FastCDC (the engine's Chunker, 4 MiB pieces), one thread, median of ${repeats} repeats (load ${loadStart} → ${loadEnd}; ${quietNote()}).`,
    'Throughput counts every byte of the corpus (files not above MIN are one chunk and are not scanned).',
    '',
    '| corpus | MIN/AVG/MAX | throughput | chunks | mean chunk | unique bytes over the versions |',
    '|---|---|---:|---:|---:|---:|',
  ]
  for (const [corpus, byCfg] of Object.entries(out)) {
    for (const [name, o] of Object.entries(byCfg)) {
      lines.push(`| ${corpus} | ${name}${name === label(DEFAULT_CHUNKING) ? ' (default)' : ''} | ${fmt(median(o.gbps))} GB/s | ${o.chunks.toLocaleString('en')} | ${(o.bytes / o.chunks / KiB).toFixed(0)} KiB | ${o.uniqueBytes ? `${(o.uniqueBytes / 1e6).toFixed(1)} MB in ${o.uniqueChunks.toLocaleString('en')} chunks` : ''} |`)
    }
  }
  return {lines, raw: {loadStart, loadEnd, out}}
}

// ---------------------------------------------------------------------------------------------
// Sealing: the measured build's AeadSealer (core/engine/dist/crypto/seal.js) as the chunk workers
// call it, one item at a time; what a blob costs besides compression and its MAC. Run it with
// --root on two frozen builds (test/bench/build-snapshot.sh) to compare them.

async function sealPart() {
  const {AeadSealer} = await core('crypto/seal.js')
  const sealer = new AeadSealer(randomBytes(32))
  const aad = randomBytes(34)
  const sizes = [100, 2 * KiB, 16 * KiB, 128 * KiB]
  const loadStart = load1()
  const out = {}
  for (let r = 0; r < repeats; r++) {
    await quietly(`seal repeat ${r + 1}`, async () => {
      for (const size of sizes) {
        const plain = randomBytes(size)
        const until = now() + BigInt(Math.round(Number(opt.seconds) * 1e9))
        const start = now()
        let n = 0
        while (now() < until) {
          sealer.seal(plain, aad)
          n++
        }
        ;(out[size] ??= []).push(Number(now() - start) / n / 1000)
      }
    })
  }
  const loadEnd = load1()
  const lines = [
    `AeadSealer.seal of ${root}, one thread, µs per item, median of ${repeats} repeats of ${opt.seconds} s (load ${loadStart} → ${loadEnd}; ${quietNote()}).`,
    '',
    '| plaintext | µs per seal |',
    '|---:|---:|',
    ...sizes.map((size) => `| ${size >= KiB ? `${size / KiB} KiB` : `${size} B`} | ${fmt(median(out[size]))} |`),
  ]
  return {lines, raw: {loadStart, loadEnd, out}}
}

// ---------------------------------------------------------------------------------------------
const PARTS = {mac: macPart, compression: compressionPart, chunking: chunkingPart, seal: sealPart}
if (!PARTS[part]) {
  process.stderr.write(`usage: node test/bench/choices.mjs ${Object.keys(PARTS).join('|')} [options]\n`)
  process.exit(2)
}
const started = new Date().toISOString()
const {lines, raw} = await PARTS[part]()
const header = `<!-- choices.mjs ${part}, ${started}, ${os.cpus()[0]?.model}, node ${process.version}, core from ${root} -->`
process.stdout.write([header, ...lines, ''].join('\n'))
if (opt.json) fs.writeFileSync(opt.json, JSON.stringify({part, started, root, cpu: os.cpus()[0]?.model, node: process.version, argv: process.argv.slice(2), ...raw, quiet}, null, 1))
