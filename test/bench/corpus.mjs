// Benchmark corpora: built once, cached, never committed.
//
//   node test/bench/corpus.mjs [--profile full|tiny] [--dir DIR] [SET ...]
//
// Sets (profile "full"; "tiny" builds the same shapes a few MB large, without the network, and
// only three versions):
//   versions    ten consecutive typescript releases from the npm registry, unpacked (v01 … v10)
//   mixed       ≈1.8 GB: npm/ = native binaries, wasm, fonts, images, JS from pinned npm
//               packages; sys/ = the /usr files of pinned Debian packages of this machine image
//               (shared objects, static libraries, executables, Java modules, ICU data, icons,
//               vim runtime, PostgreSQL, headers)
//   source-tree 293 MB in 29,943 files, 3,785 directories and 30 symbolic links, the shape of
//               /usr/lib or a source tree (issue 15): usr/ = the /usr files of pinned Debian
//               packages of this machine image (the Python 3.11 standard library and its .pyc,
//               pip, setuptools, pygments, Perl modules, kernel, libc and libstdc++ headers,
//               PostgreSQL 15, CMake modules, Tcl; shared objects, static libraries,
//               executables, symbolic links), and usr/lib/node_modules/ = pinned npm packages of
//               many small files (date-fns, core-js, rxjs, highlight.js, lodash, ramda, webpack,
//               moment, eslint) with their .bin links; "tiny": 7 Python and Tcl packages, 7 MB
//   many-small  300,000 files of 0–4 KiB (text-like and random), 200,000 in 2,000 nested
//               directories and 100,000 in one directory (flat/)
//   big-random  a.bin: 2 GiB of AES-256-CTR keystream (incompressible, deterministic);
//               b.bin: a.bin with 64 bytes changed and 12 short runs inserted
//   million     (opt-in) 1,000,000 files of 0–256 bytes, 100,000 of them in one directory
//
// Everything lives under DIR/<profile>/ (DIR = --dir, else $PLAKAR_BENCH_DIR/corpora, else
// ~/.cache/plakar-bench/corpora). A set is built in <set>.tmp and renamed when complete;
// DIR/<profile>/_state/<set>.json records what was built (and from which recipe): a later call
// with the same recipe does nothing, a changed recipe rebuilds. Only the npm registry is contacted
// (npm pack, tarballs kept in DIR/_tgz). Content is deterministic given the pinned versions.
import {spawnSync} from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {parseArgs} from 'node:util'

export const SETS = ['versions', 'mixed', 'source-tree', 'many-small', 'big-random', 'million']
export const DEFAULT_SETS = ['versions', 'mixed', 'source-tree', 'many-small', 'big-random']

const VERSIONS = ['5.4.2', '5.4.3', '5.4.4', '5.4.5', '5.5.2', '5.5.3', '5.5.4', '5.6.2', '5.6.3', '5.7.2']

const MIXED_NPM = [
  'typescript@5.9.3', //                        JS and .d.ts text
  '@oven/bun-linux-x64@1.4.5', //               one large executable
  '@next/swc-linux-x64-gnu@16.4.6', //          large Rust shared object
  '@rspack/binding-linux-x64-gnu@2.3.3', //     Rust shared object
  '@sentry/cli-linux-x64@3.8.0', //             Rust executable
  '@esbuild/linux-x64@0.28.2', //               Go executable
  '@img/sharp-libvips-linux-x64@1.3.4', //      C shared library
  'emoji-datasource-google@16.0.0', //          thousands of PNG images
  '@fontsource/noto-sans-jp@5.3.0', //          woff/woff2 fonts, CSS
  'three@0.187.0', //                           JS, examples
  'pdfjs-dist@6.5.438', //                      JS, wasm, cmaps
  'mathjax-full@3.2.2', //                      many small JS files
]

// Debian 12 packages of this machine image; their /usr files are copied (hard links become
// separate files, symbolic links stay links). A version other than the pinned one is reported:
// the set would then differ from the one measured before.
const MIXED_DEB = [
  'llvm-14-dev=1:14.0.6-12',
  'openjdk-17-jre-headless=17.0.15+6-1~deb12u1',
  'libllvm15=1:15.0.6-4+b1',
  'valgrind=1:3.19.0-1',
  'postgresql-15=15.18-0+deb12u1',
  'git=1:2.39.5-0+deb12u3',
  'libicu72=72.1-3+deb12u1',
  'vim-runtime=2:9.0.1378-2+deb12u2',
  'adwaita-icon-theme=43-1',
  'libgl1-mesa-dri=22.3.6-1+deb12u1',
  'libperl5.36=5.36.0-7+deb12u2',
]

// Debian 12 packages of this machine image for the source tree (pinned as for mixed): interpreter
// libraries, headers and data files, mostly small text files, some shared objects, static
// libraries and executables. The .pyc files that Debian compiles at install time
// (__pycache__/NAME.cpython-311.pyc beside each listed .py) are copied too: they are not in the
// packages' file lists, but follow from the pinned sources and the pinned python3.11.
const SOURCE_TREE_DEB = [
  'python3.11-minimal=3.11.2-6+deb12u6',
  'libpython3.11-minimal=3.11.2-6+deb12u6',
  'libpython3.11-stdlib=3.11.2-6+deb12u6',
  'libpython3.11-dev=3.11.2-6+deb12u6',
  'python3.11=3.11.2-6+deb12u6',
  'python3-pip=23.0.1+dfsg-1',
  'python3-setuptools=66.1.1-1+deb12u2',
  'python3-pkg-resources=66.1.1-1+deb12u2',
  'python3-pygments=2.14.0+dfsg-1',
  'python3-distutils=3.11.2-3',
  'python3-lib2to3=3.11.2-3',
  'perl-base=5.36.0-7+deb12u2',
  'perl-modules-5.36=5.36.0-7+deb12u2',
  'libperl5.36=5.36.0-7+deb12u2',
  'linux-libc-dev=6.1.187-1',
  'libc6-dev=2.36-9+deb12u14',
  'libstdc++-12-dev=12.2.0-14+deb12u1',
  'postgresql-15=15.18-0+deb12u1',
  'postgresql-client-15=15.18-0+deb12u1',
  'cmake-data=3.25.1-1',
  'libtcl8.6=8.6.13+dfsg-2',
  'tcl8.6=8.6.13+dfsg-2',
]

// npm packages of many small files (JS, .d.ts, JSON, maps), unpacked into usr/lib/node_modules.
const SOURCE_TREE_NPM = [
  'date-fns@2.30.0', //    5,700 files: one folder per function and per locale
  'core-js@3.38.1', //     3,500 tiny modules
  'rxjs@7.8.1', //         2,300 files: four builds of the same sources
  'highlight.js@11.10.0',
  'lodash@4.17.21',
  'ramda@0.30.1',
  'webpack@5.94.0',
  'moment@2.30.1',
  'eslint@8.57.0',
]

/** Recipe of each set per profile; a change of recipe rebuilds the set. */
export const RECIPES = {
  full: {
    versions: {kind: 'npm-versions', package: 'typescript', versions: VERSIONS},
    mixed: {kind: 'mixed', npm: MIXED_NPM, deb: MIXED_DEB},
    'source-tree': {kind: 'source-tree', deb: SOURCE_TREE_DEB, npm: SOURCE_TREE_NPM, pyc: 'cpython-311'},
    'many-small': {kind: 'small', outer: 100, inner: 20, perDir: 100, flat: 100_000, maxSize: 4096, seed: 'many-small/1'},
    'big-random': {kind: 'big', size: 2 * 1024 ** 3, changes: 64, inserts: 12, seed: 'big-random/1'},
    million: {kind: 'small', outer: 100, inner: 90, perDir: 100, flat: 100_000, maxSize: 256, seed: 'million/1'},
  },
  tiny: {
    versions: {kind: 'synthetic-versions', count: 3, files: 120, maxSize: 6000, seed: 'tiny-versions/1'},
    mixed: {kind: 'usr-sample', roots: ['/usr/share/doc', '/usr/lib/x86_64-linux-gnu', '/usr/bin'], bytesEach: 1_500_000},
    // the Python 3.11 tools, distutils and lib2to3 (with their .pyc) and Tcl: 7 MB, no npm
    'source-tree': {
      kind: 'source-tree',
      deb: ['python3=3.11.2-1+b1', 'python3-minimal=3.11.2-1+b1', 'python3.11=3.11.2-6+deb12u6', 'python3-distutils=3.11.2-3', 'python3-lib2to3=3.11.2-3', 'tcl8.6=8.6.13+dfsg-2', 'libtcl8.6=8.6.13+dfsg-2'],
      npm: [],
      pyc: 'cpython-311',
    },
    'many-small': {kind: 'small', outer: 4, inner: 5, perDir: 50, flat: 1000, maxSize: 4096, seed: 'tiny-small/1'},
    'big-random': {kind: 'big', size: 8 * 1024 ** 2, changes: 16, inserts: 4, seed: 'tiny-big/1'},
    million: {kind: 'small', outer: 4, inner: 5, perDir: 100, flat: 2000, maxSize: 256, seed: 'tiny-million/1'},
  },
}

export function defaultCorpusDir() {
  if (process.env.PLAKAR_BENCH_DIR) return path.join(process.env.PLAKAR_BENCH_DIR, 'corpora')
  return path.join(os.homedir(), '.cache', 'plakar-bench', 'corpora')
}

const log = (msg) => process.stderr.write(`[corpus ${new Date().toISOString().slice(11, 19)}] ${msg}\n`)

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, {encoding: 'utf8', maxBuffer: 256 << 20, ...opts})
  if (r.error) throw r.error
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${(r.stderr || '').trim().slice(-500)}`)
  return r.stdout
}

const recipeHash = (recipe) => crypto.createHash('sha256').update(JSON.stringify(recipe)).digest('hex').slice(0, 16)

/**
 * Builds (or finds) one set and returns its state: {path, files, bytes, recipe, …}.
 * `dir` is the corpus root (without the profile).
 */
export async function ensureSet(name, {profile = 'full', dir = defaultCorpusDir()} = {}) {
  const recipe = RECIPES[profile]?.[name]
  if (!recipe) throw new Error(`unknown corpus ${profile}/${name}`)
  const base = path.join(dir, profile)
  const stateDir = path.join(base, '_state')
  fs.mkdirSync(stateDir, {recursive: true})
  const stateFile = path.join(stateDir, `${name}.json`)
  const target = path.join(base, name)
  const hash = recipeHash(recipe)
  if (fs.existsSync(stateFile) && fs.existsSync(target)) {
    const state = JSON.parse(fs.readFileSync(stateFile, 'utf8'))
    if (state.recipe === hash) return {...state, path: target}
    log(`${profile}/${name}: recipe changed, rebuilding`)
  }
  const tmp = `${target}.tmp`
  fs.rmSync(tmp, {recursive: true, force: true})
  fs.mkdirSync(tmp, {recursive: true})
  const t0 = Date.now()
  log(`${profile}/${name}: building`)
  const extra = (await BUILDERS[recipe.kind](tmp, recipe, {dir})) ?? {}
  fs.rmSync(target, {recursive: true, force: true})
  fs.renameSync(tmp, target)
  const {files, bytes, dirs, links} = treeStats(target)
  const state = {name, profile, recipe: hash, files, bytes, dirs, links, builtAt: new Date().toISOString(), buildSeconds: (Date.now() - t0) / 1000, ...extra}
  fs.writeFileSync(stateFile, JSON.stringify(state, null, 2))
  log(`${profile}/${name}: ${files} files, ${(bytes / 1e6).toFixed(1)} MB, ${dirs} directories, ${links} symbolic links in ${state.buildSeconds.toFixed(0)} s`)
  return {...state, path: target}
}

/** Stores extra facts (e.g. a digest) in a set's state file. */
export function updateState(name, {profile = 'full', dir = defaultCorpusDir()}, facts) {
  const stateFile = path.join(dir, profile, '_state', `${name}.json`)
  const state = JSON.parse(fs.readFileSync(stateFile, 'utf8'))
  fs.writeFileSync(stateFile, JSON.stringify({...state, ...facts}, null, 2))
}

/**
 * Regular files and their apparent bytes, directories (the root left out) and symbolic links
 * under a directory (links not followed).
 */
export function treeStats(root) {
  let files = 0
  let bytes = 0
  let dirs = 0
  let links = 0
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, {withFileTypes: true})) {
      const p = path.join(dir, e.name)
      if (e.isDirectory()) {
        dirs++
        walk(p)
      } else if (e.isSymbolicLink()) links++
      else if (e.isFile()) {
        files++
        bytes += fs.lstatSync(p).size
      }
    }
  }
  walk(root)
  return {files, bytes, dirs, links}
}

/**
 * Content digest of a tree: relative paths in byte order, the kind of each entry, the content
 * of regular files and the targets of symbolic links. Permissions and times are left out (the
 * three tools restore them differently as non-owners; content is what must come back).
 */
export async function treeDigest(root) {
  const h = crypto.createHash('sha256')
  const walk = async (dir, rel) => {
    const names = fs.readdirSync(dir).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    for (const name of names) {
      const p = path.join(dir, name)
      const r = rel ? `${rel}/${name}` : name
      const st = fs.lstatSync(p)
      if (st.isDirectory()) {
        h.update(`d ${r}\n`)
        await walk(p, r)
      } else if (st.isSymbolicLink()) {
        h.update(`l ${r} ${fs.readlinkSync(p)}\n`)
      } else if (st.isFile()) {
        h.update(`f ${r} ${st.size} ${await fileHash(p, st.size)}\n`)
      } else {
        h.update(`o ${r}\n`)
      }
    }
  }
  await walk(root, '')
  return h.digest('hex')
}

async function fileHash(p, size) {
  if (size <= 1 << 20) return crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex')
  const h = crypto.createHash('sha256')
  for await (const chunk of fs.createReadStream(p, {highWaterMark: 4 << 20})) h.update(chunk)
  return h.digest('hex')
}

/** A deterministic byte source: the AES-256-CTR keystream under a key derived from `seed`. */
function keystream(seed) {
  const key = crypto.createHash('sha256').update(seed).digest()
  const cipher = crypto.createCipheriv('aes-256-ctr', key, Buffer.alloc(16))
  const zeros = Buffer.alloc(4 << 20)
  let pool = Buffer.alloc(0)
  let pos = 0
  return (n) => {
    if (n > zeros.length) return cipher.update(Buffer.alloc(n))
    if (pos + n > pool.length) {
      pool = cipher.update(zeros)
      pos = 0
    }
    const out = pool.subarray(pos, pos + n)
    pos += n
    return out
  }
}

// A word list for text-like content (compressible, but not trivially).
const WORDS = (
  'the of and to in is that for it as was with be by on not he this are or his from at which but ' +
  'have an they you were her she there been one all we their has would when if so no will can more ' +
  'backup restore snapshot chunk packfile index state repository check deduplicate encrypt compress ' +
  'function return const let value error buffer stream promise async await export import module class'
).split(' ')

function textLike(take, size) {
  const parts = []
  let n = 0
  while (n < size) {
    const b = take(2)
    let w = WORDS[(b[0] << 8 | b[1]) % WORDS.length]
    if (b[1] % 13 === 0) w += '\n'
    else w += ' '
    parts.push(w)
    n += w.length
  }
  return Buffer.from(parts.join('')).subarray(0, size)
}

function tgzOf(spec, dir) {
  const tgzDir = path.join(dir, '_tgz')
  fs.mkdirSync(tgzDir, {recursive: true})
  const at = spec.lastIndexOf('@')
  const name = spec.slice(0, at)
  const version = spec.slice(at + 1)
  const file = path.join(tgzDir, `${name.replace(/^@/, '').replace('/', '-')}-${version}.tgz`)
  if (!fs.existsSync(file) || fs.statSync(file).size === 0) {
    log(`npm pack ${spec}`)
    run('npm', ['pack', spec, '--silent'], {cwd: tgzDir, env: {...process.env, npm_config_fund: 'false', npm_config_audit: 'false', npm_config_update_notifier: 'false'}})
    if (!fs.existsSync(file)) throw new Error(`npm pack ${spec} did not produce ${file}`)
  }
  return file
}

function unpack(spec, dest, dir) {
  fs.mkdirSync(dest, {recursive: true})
  run('tar', ['-xzf', tgzOf(spec, dir), '-C', dest, '--strip-components=1', '--no-same-owner'])
}

/** Copies one /usr path (file, symbolic link or directory itself) into `destRoot`. */
function copyUsrPath(src, destRoot) {
  const st = fs.lstatSync(src, {throwIfNoEntry: false})
  if (!st) return 0
  const dest = path.join(destRoot, src)
  if (st.isDirectory()) {
    fs.mkdirSync(dest, {recursive: true})
    return 0
  }
  fs.mkdirSync(path.dirname(dest), {recursive: true})
  if (fs.existsSync(dest) || fs.lstatSync(dest, {throwIfNoEntry: false})) return 0
  if (st.isSymbolicLink()) {
    fs.symlinkSync(fs.readlinkSync(src), dest)
    return 0
  }
  if (!st.isFile()) return 0
  fs.copyFileSync(src, dest)
  fs.chmodSync(dest, st.mode & 0o7777)
  return st.size
}

/**
 * Copies the /usr files of pinned Debian packages ("name=version") into `destRoot`, in name
 * order. A package installed in another version is copied all the same and reported (the set then
 * differs from earlier builds); a missing one is reported and skipped. With `pyc` (a tag such as
 * "cpython-311"), the compiled __pycache__/NAME.TAG.pyc beside each listed NAME.py is copied when
 * it exists. Returns the mismatches and the number of .pyc files copied.
 */
function copyDebs(pins, destRoot, {set, pyc}) {
  const mismatches = []
  let pycFiles = 0
  for (const pin of pins) {
    const [pkg, want] = [pin.slice(0, pin.indexOf('=')), pin.slice(pin.indexOf('=') + 1)]
    const have = spawnSync('dpkg-query', ['-W', '-f=${Version}', pkg], {encoding: 'utf8'}).stdout || 'missing'
    if (have !== want) {
      mismatches.push(`${pkg}: ${have} here, pinned ${want}`)
      log(`WARNING: ${pkg} is ${have} here, the corpus pins ${want}: ${set}/ differs from earlier builds`)
    }
    if (have === 'missing') continue
    const list = run('dpkg', ['-L', pkg]).split('\n').filter((p) => p.startsWith('/usr/')).sort()
    for (const p of list) {
      copyUsrPath(p, destRoot)
      if (!pyc || !p.endsWith('.py')) continue
      const compiled = path.join(path.dirname(p), '__pycache__', `${path.basename(p, '.py')}.${pyc}.pyc`)
      if (fs.lstatSync(compiled, {throwIfNoEntry: false})?.isFile()) {
        copyUsrPath(compiled, destRoot)
        pycFiles++
      }
    }
  }
  return pyc ? {debMismatches: mismatches, pycFiles} : {debMismatches: mismatches}
}

const BUILDERS = {
  async 'npm-versions'(tmp, r, {dir}) {
    r.versions.forEach((v, i) => unpack(`${r.package}@${v}`, path.join(tmp, `v${String(i + 1).padStart(2, '0')}`), dir))
    return {versions: r.versions.map((v) => `${r.package}@${v}`)}
  },

  async mixed(tmp, r, {dir}) {
    for (const spec of r.npm) unpack(spec, path.join(tmp, 'npm', spec.slice(0, spec.lastIndexOf('@')).replace(/^@/, '').replace('/', '__')), dir)
    return copyDebs(r.deb, path.join(tmp, 'sys'), {set: 'mixed'})
  },

  async 'source-tree'(tmp, r, {dir}) {
    const copied = copyDebs(r.deb, tmp, {set: 'source-tree', pyc: r.pyc})
    // As npm installs them: node_modules/NAME, and node_modules/.bin/COMMAND a relative link to
    // each package's executable (the first package to claim a command keeps it).
    const modules = path.join(tmp, 'usr', 'lib', 'node_modules')
    for (const spec of r.npm) {
      const name = spec.slice(0, spec.lastIndexOf('@'))
      unpack(spec, path.join(modules, name), dir)
      const {bin} = JSON.parse(fs.readFileSync(path.join(modules, name, 'package.json'), 'utf8'))
      const commands = typeof bin === 'string' ? {[name.split('/').pop()]: bin} : (bin ?? {})
      for (const [command, file] of Object.entries(commands).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
        const link = path.join(modules, '.bin', command)
        fs.mkdirSync(path.dirname(link), {recursive: true})
        if (!fs.lstatSync(link, {throwIfNoEntry: false})) fs.symlinkSync(path.posix.join('..', name, path.posix.normalize(file)), link)
      }
    }
    return copied
  },

  async 'usr-sample'(tmp, r) {
    // The first files (in name order) of a few /usr directories, up to a byte budget each.
    for (const root of r.roots) {
      let budget = r.bytesEach
      const walk = (d) => {
        let names
        try {
          names = fs.readdirSync(d).sort()
        } catch {
          return
        }
        for (const name of names) {
          if (budget <= 0) return
          const p = path.join(d, name)
          const st = fs.lstatSync(p, {throwIfNoEntry: false})
          if (!st) continue
          if (st.isDirectory()) walk(p)
          else if (st.isSymbolicLink() || (st.isFile() && st.size <= budget)) budget -= copyUsrPath(p, tmp)
        }
      }
      walk(root)
    }
  },

  async 'synthetic-versions'(tmp, r) {
    // Versions of a small tree: each one edits a tenth of the files, appends to some and
    // adds a few, like successive releases of a package.
    const take = keystream(r.seed)
    const files = new Map()
    for (let i = 0; i < r.files; i++) {
      const size = take(2).readUInt16BE(0) % r.maxSize
      files.set(`src/m${String(i % 7)}/file${i}.js`, textLike(take, size))
    }
    for (let v = 1; v <= r.count; v++) {
      if (v > 1) {
        const names = [...files.keys()]
        for (const name of names) {
          const b = take(1)[0]
          if (b < 26) files.set(name, Buffer.concat([textLike(take, 40), files.get(name).subarray(20)]))
          else if (b < 40) files.set(name, Buffer.concat([files.get(name), textLike(take, 200)]))
        }
        for (let k = 0; k < 3; k++) files.set(`src/new/v${v}-${k}.js`, textLike(take, 1000 + k * 500))
      }
      const root = path.join(tmp, `v${String(v).padStart(2, '0')}`)
      for (const [name, content] of files) {
        fs.mkdirSync(path.dirname(path.join(root, name)), {recursive: true})
        fs.writeFileSync(path.join(root, name), content)
      }
      fs.writeFileSync(path.join(root, 'package.json'), JSON.stringify({name: 'tiny', version: `1.${v}.0`}))
    }
  },

  async small(tmp, r) {
    const take = keystream(r.seed)
    const pad = (n, w) => String(n).padStart(w, '0')
    const write = (p) => {
      const h = take(3)
      const size = h.readUInt16BE(0) % (r.maxSize + 1)
      // three in five are text-like, the others random bytes
      fs.writeFileSync(p, h[2] % 5 < 3 ? textLike(take, size) : take(size))
    }
    for (let a = 0; a < r.outer; a++) {
      for (let b = 0; b < r.inner; b++) {
        const d = path.join(tmp, `t${pad(a, 3)}`, `s${pad(b, 2)}`)
        fs.mkdirSync(d, {recursive: true})
        for (let c = 0; c < r.perDir; c++) write(path.join(d, `f${pad(c, 3)}.txt`))
      }
    }
    const flat = path.join(tmp, 'flat')
    fs.mkdirSync(flat)
    for (let i = 0; i < r.flat; i++) write(path.join(flat, `e${pad(i, 6)}`))
  },

  async big(tmp, r) {
    const take = keystream(`${r.seed}/content`)
    const a = path.join(tmp, 'a.bin')
    const block = 8 << 20
    const fd = fs.openSync(a, 'w')
    for (let off = 0; off < r.size; off += block) fs.writeSync(fd, take(Math.min(block, r.size - off)))
    fs.closeSync(fd)
    // Positions of the edits, from a second keystream: `changes` single bytes incremented and
    // `inserts` runs of 1 to 64 new bytes inserted, spread over the whole file.
    const pick = keystream(`${r.seed}/edits`)
    const position = () => Number(pick(8).readBigUInt64BE(0) % BigInt(r.size))
    const changes = Array.from({length: r.changes}, position).sort((x, y) => x - y)
    const inserts = Array.from({length: r.inserts}, () => ({at: position(), bytes: pick(1 + (pick(1)[0] % 64))})).sort((x, y) => x.at - y.at)
    const src = fs.openSync(a, 'r')
    const out = fs.openSync(path.join(tmp, 'b.bin'), 'w')
    const buf = Buffer.alloc(block)
    let ci = 0
    let ii = 0
    for (let off = 0; off < r.size; off += block) {
      const n = fs.readSync(src, buf, 0, block, off)
      const view = buf.subarray(0, n)
      while (ci < changes.length && changes[ci] < off + n) {
        const p = changes[ci++] - off
        view[p] = (view[p] + 1) & 0xff
      }
      let from = 0
      while (ii < inserts.length && inserts[ii].at < off + n) {
        const p = inserts[ii].at - off
        fs.writeSync(out, view.subarray(from, p))
        fs.writeSync(out, inserts[ii++].bytes)
        from = p
      }
      fs.writeSync(out, view.subarray(from))
    }
    fs.closeSync(src)
    fs.closeSync(out)
    return {edits: {changed: changes, inserted: inserts.map((i) => ({at: i.at, length: i.bytes.length}))}}
  },
}

async function main() {
  const {values, positionals} = parseArgs({
    options: {profile: {type: 'string', default: 'full'}, dir: {type: 'string'}},
    allowPositionals: true,
  })
  const sets = positionals.length ? positionals : DEFAULT_SETS
  for (const s of sets) {
    const st = await ensureSet(s, {profile: values.profile, dir: values.dir ?? defaultCorpusDir()})
    process.stdout.write(`${s}\t${st.files} files\t${st.bytes} bytes\t${st.path}\n`)
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e) => {
    process.stderr.write(`corpus: ${e.message}\n`)
    process.exit(1)
  })
}

/** Apparent bytes of every file under a directory. */
export function dirBytes(dir) {
  let n = 0
  const walk = (d) => {
    for (const e of fs.readdirSync(d, {withFileTypes: true})) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else n += fs.lstatSync(p).size
    }
  }
  if (fs.existsSync(dir)) walk(dir)
  return n
}
