/**
 * Build directory trees for end-to-end tests, and compare two trees the way a demanding user
 * would: type, permission bits, size, mtime, symlink target, content and hard-link grouping.
 */
import {createHash, randomFillSync} from 'node:crypto'
import {createReadStream, createWriteStream} from 'node:fs'
import {chmod, chown, lchown, link, lstat, lutimes, mkdir, readdir, readlink, stat, symlink, utimes, writeFile} from 'node:fs/promises'
import {once} from 'node:events'
import {dirname, join} from 'node:path'

/** A time in seconds since the epoch, fractional part included (the fs keeps nanoseconds). */
export type Seconds = number

export interface Meta {
  /** Permission bits, applied after content (for directories: after all children). */
  mode?: number
  mtime?: Seconds
  uid?: number
  gid?: number
}

/**
 * Writes `size` random bytes to `path` in 1 MiB pieces, honouring back-pressure: a file of any
 * size costs 1 MiB of memory. Returns the sha256 of what was written.
 */
export async function writeRandomFile(path: string, size: number, piece = 1024 * 1024): Promise<string> {
  await mkdir(dirname(path), {recursive: true})
  const out = createWriteStream(path)
  const hash = createHash('sha256')
  let left = size
  while (left > 0) {
    const buf = randomFillSync(Buffer.allocUnsafe(Math.min(piece, left)))
    hash.update(buf)
    left -= buf.length
    if (!out.write(buf)) await once(out, 'drain')
  }
  out.end()
  await once(out, 'finish')
  return hash.digest('hex')
}

/** sha256 of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path, {highWaterMark: 1024 * 1024})) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex')
}

/**
 * Builds a tree under `root`. Directory metadata (mode, mtime) is applied by `finish()`, deepest
 * first, so that creating children does not disturb it; file and symlink metadata is applied
 * at once. Paths are relative to the root, '/'-separated.
 */
export class TreeBuilder {
  readonly root: string
  readonly #dirs = new Map<string, Meta>()
  readonly #late: (() => Promise<void>)[] = []

  constructor(root: string) {
    this.root = root
  }

  path(rel: string): string {
    return rel === '' || rel === '/' ? this.root : join(this.root, ...rel.split('/').filter(Boolean))
  }

  async dir(rel: string, meta: Meta = {}): Promise<this> {
    await mkdir(this.path(rel), {recursive: true})
    this.#dirs.set(rel, {...this.#dirs.get(rel), ...meta})
    return this
  }

  async file(rel: string, content: string | Uint8Array = '', meta: Meta = {}): Promise<this> {
    const full = this.path(rel)
    await mkdir(dirname(full), {recursive: true})
    await writeFile(full, content)
    await this.#apply(full, meta)
    return this
  }

  async randomFile(rel: string, size: number, meta: Meta = {}): Promise<string> {
    const full = this.path(rel)
    const digest = await writeRandomFile(full, size)
    await this.#apply(full, meta)
    return digest
  }

  async symlink(rel: string, target: string, meta: Meta = {}): Promise<this> {
    const full = this.path(rel)
    await mkdir(dirname(full), {recursive: true})
    await symlink(target, full)
    if (meta.uid !== undefined) await lchown(full, meta.uid, meta.gid ?? meta.uid)
    if (meta.mtime !== undefined) await lutimes(full, meta.mtime, meta.mtime)
    return this
  }

  async hardlink(rel: string, existing: string): Promise<this> {
    const full = this.path(rel)
    await mkdir(dirname(full), {recursive: true})
    await link(this.path(existing), full)
    return this
  }

  /** Runs `fn` at the end of `finish()`, before directory metadata (e.g. chmod 000 a file). */
  later(fn: () => Promise<void>): this {
    this.#late.push(fn)
    return this
  }

  async #apply(full: string, meta: Meta): Promise<void> {
    if (meta.uid !== undefined) await chown(full, meta.uid, meta.gid ?? meta.uid)
    if (meta.mode !== undefined) await chmod(full, meta.mode)
    if (meta.mtime !== undefined) await utimes(full, meta.mtime, meta.mtime)
  }

  async finish(): Promise<string> {
    for (const fn of this.#late) await fn()
    const dirs = [...this.#dirs.entries()].sort((a, b) => depth(b[0]) - depth(a[0]))
    for (const [rel, meta] of dirs) await this.#apply(this.path(rel), meta)
    return this.root
  }
}

function depth(rel: string): number {
  return rel.split('/').filter(Boolean).length
}

export interface CompareOptions {
  /**
   * Largest mtime difference accepted, in nanoseconds. Snapshots keep mtimes as float
   * milliseconds (≈0.25 µs resolution at today's epoch): the default, 2 µs, demands everything
   * the format can carry, which millisecond truncation would fail.
   */
  mtimeToleranceNs?: bigint
  /** Compare owner and group too. */
  owner?: boolean
  /** Compare the roots' own metadata (mode, mtime), not only their content. */
  rootMeta?: boolean
  /** Relative paths to leave out of both sides (and everything below them). */
  ignore?: (rel: string) => boolean
  /** Compare content hashes (default true). */
  content?: boolean
}

export interface TreeEntry {
  rel: string
  type: 'file' | 'directory' | 'symlink' | 'other'
  mode: number
  size: bigint
  mtimeNs: bigint
  uid: number
  gid: number
  ino: bigint
  dev: bigint
  nlink: bigint
  target?: string
}

/** Every entry below `root` (root itself as ''), depth first, names sorted, never following symlinks. */
export async function walkTree(root: string, ignore?: (rel: string) => boolean): Promise<TreeEntry[]> {
  const out: TreeEntry[] = []
  const visit = async (rel: string): Promise<void> => {
    const full = rel === '' ? root : join(root, ...rel.split('/'))
    const s = await lstat(full, {bigint: true})
    const type = s.isFile() ? 'file' : s.isDirectory() ? 'directory' : s.isSymbolicLink() ? 'symlink' : 'other'
    const entry: TreeEntry = {
      rel,
      type,
      mode: Number(s.mode & 0o7777n),
      size: s.size,
      mtimeNs: s.mtimeNs,
      uid: Number(s.uid),
      gid: Number(s.gid),
      ino: s.ino,
      dev: s.dev,
      nlink: s.nlink,
    }
    if (type === 'symlink') entry.target = await readlink(full)
    out.push(entry)
    if (type === 'directory') {
      const names = (await readdir(full)).sort()
      for (const name of names) {
        const child = rel === '' ? name : `${rel}/${name}`
        if (ignore?.(child)) continue
        await visit(child)
      }
    }
  }
  await visit('')
  return out
}

/**
 * Moves the access and modification times of every entry below `root` (root included, symlinks
 * not followed) an hour back, as if the tree had been written long before the test backs it up.
 * A backup reads again, next time, every file modified in the seconds before it (racily clean,
 * core/engine backup.ts racyFrom): tests that count what an incremental backup reads or reuses
 * age their fresh trees first, so that only their own changes count.
 */
export async function ageTree(root: string, seconds = 3600): Promise<void> {
  // Children before their directory: changing a child's times leaves its directory's alone anyway.
  for (const e of (await walkTree(root)).reverse()) {
    const full = e.rel === '' ? root : join(root, ...e.rel.split('/'))
    const s = await lstat(full)
    await lutimes(full, s.atimeMs / 1000 - seconds, s.mtimeMs / 1000 - seconds)
  }
}

/** Groups of hard-linked regular files: for each path, the sorted paths sharing its inode. */
function linkGroups(entries: TreeEntry[]): Map<string, string> {
  const byInode = new Map<string, string[]>()
  for (const e of entries) {
    if (e.type !== 'file') continue
    const key = `${e.dev}:${e.ino}`
    byInode.set(key, [...(byInode.get(key) ?? []), e.rel])
  }
  const out = new Map<string, string>()
  for (const paths of byInode.values()) {
    const group = paths.sort().join(' | ')
    for (const p of paths) out.set(p, group)
  }
  return out
}

const show = (rel: string) => JSON.stringify(rel === '' ? '.' : rel)

/**
 * Compares two trees and returns every difference found, one line each (empty when equal), so
 * that a failing test says exactly what differs.
 */
export async function compareTrees(expected: string, actual: string, options: CompareOptions = {}): Promise<string[]> {
  const tolerance = options.mtimeToleranceNs ?? 2000n
  const [a, b] = await Promise.all([walkTree(expected, options.ignore), walkTree(actual, options.ignore)])
  const diffs: string[] = []
  const bByRel = new Map(b.map((e) => [e.rel, e]))
  const aRels = new Set(a.map((e) => e.rel))
  for (const e of b) if (!aRels.has(e.rel)) diffs.push(`${show(e.rel)}: unexpected ${e.type} in the restored tree`)
  const groupsA = linkGroups(a)
  const groupsB = linkGroups(b)
  for (const ea of a) {
    const eb = bByRel.get(ea.rel)
    const what = show(ea.rel)
    if (!eb) {
      diffs.push(`${what}: ${ea.type} missing from the restored tree`)
      continue
    }
    if (ea.type !== eb.type) {
      diffs.push(`${what}: type ${ea.type} became ${eb.type}`)
      continue
    }
    const meta = ea.rel !== '' || options.rootMeta
    if (meta && ea.mode !== eb.mode) diffs.push(`${what}: mode ${ea.mode.toString(8)} became ${eb.mode.toString(8)}`)
    if (meta && (ea.type !== 'directory' || ea.rel !== '' || options.rootMeta)) {
      const delta = ea.mtimeNs > eb.mtimeNs ? ea.mtimeNs - eb.mtimeNs : eb.mtimeNs - ea.mtimeNs
      if (delta > tolerance) diffs.push(`${what}: ${ea.type} mtime ${ea.mtimeNs}ns became ${eb.mtimeNs}ns (off by ${delta}ns)`)
    }
    if (meta && options.owner && (ea.uid !== eb.uid || ea.gid !== eb.gid)) {
      diffs.push(`${what}: owner ${ea.uid}:${ea.gid} became ${eb.uid}:${eb.gid}`)
    }
    if (ea.type === 'symlink' && ea.target !== eb.target) diffs.push(`${what}: symlink target ${JSON.stringify(ea.target)} became ${JSON.stringify(eb.target)}`)
    if (ea.type === 'file') {
      if (ea.size !== eb.size) diffs.push(`${what}: size ${ea.size} became ${eb.size}`)
      else if (options.content !== false) {
        const [ha, hb] = await Promise.all([sha256File(join(expected, ea.rel)), sha256File(join(actual, eb.rel))])
        if (ha !== hb) diffs.push(`${what}: content differs (sha256 ${ha.slice(0, 12)} vs ${hb.slice(0, 12)})`)
      }
      if (groupsA.get(ea.rel) !== groupsB.get(eb.rel)) {
        diffs.push(`${what}: hard-link group [${groupsA.get(ea.rel)}] became [${groupsB.get(eb.rel)}]`)
      }
    }
  }
  return diffs
}

/** Apparent size (sum of st_size) and file count of everything below `dir`. */
export async function diskUsage(dir: string): Promise<{bytes: number; files: number}> {
  let bytes = 0
  let files = 0
  for (const e of await walkTree(dir)) {
    if (e.type === 'file') {
      bytes += Number(e.size)
      files++
    }
  }
  return {bytes, files}
}

/** Every path below `dir`, relative, sorted ('' excluded). */
export async function listPaths(dir: string): Promise<string[]> {
  return (await walkTree(dir)).map((e) => e.rel).filter((r) => r !== '').sort()
}

/** Data packfiles of a local repository, largest first. */
export async function packfiles(repo: string): Promise<{path: string; id: string; size: number}[]> {
  const out: {path: string; id: string; size: number}[] = []
  const base = join(repo, 'packfiles')
  for (const sub of await readdir(base).catch(() => [] as string[])) {
    for (const name of await readdir(join(base, sub)).catch(() => [] as string[])) {
      if (!/^[0-9a-f]{16,128}$/.test(name)) continue
      const path = join(base, sub, name)
      out.push({path, id: name, size: (await stat(path)).size})
    }
  }
  return out.sort((x, y) => y.size - x.size)
}

/** State files of a local repository. */
export async function stateFiles(repo: string): Promise<{path: string; id: string; size: number}[]> {
  const base = join(repo, 'states')
  const out: {path: string; id: string; size: number}[] = []
  for (const name of await readdir(base).catch(() => [] as string[])) {
    if (!/^[0-9a-f]{16,128}$/.test(name)) continue
    out.push({path: join(base, name), id: name, size: (await stat(join(base, name))).size})
  }
  return out
}
