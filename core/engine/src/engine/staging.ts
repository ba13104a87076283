import Database from 'better-sqlite3'
import {mkdtempSync, readdirSync, rmSync} from 'node:fs'
import {hostname} from 'node:os'
import {join} from 'node:path'
import {basename} from 'node:path/posix'
import {BlobType} from '../format/blob-type.js'
import {decode, encode} from '../format/codec.js'
import type {EntryType} from '@plakar/sdk'
import {TreeBuilder, type NodeStore, type TreeReader} from '../tree/btree.js'
import {addSummary, emptySummary, type Summary} from '../format/summary.js'
import {contribution, decodeEntry, encodeEntry, type Entry} from '../tree/entry.js'
import {keyToPath, parentKey, pathToKey, subtreeEnd} from '../tree/path-key.js'

/**
 * Where a backup's entries wait, on disk, until the scan ends: importers yield paths in any
 * order and directory summaries need every descendant, so entries go to a temporary SQLite
 * database and come back out sorted. Memory stays bounded whatever the file count.
 *
 * Tables are append-only (rowid order, no index): inserting 100k names of one directory in
 * readdir order into a keyed B-tree cost 60 µs each, appending costs a few. Sorting happens
 * once, when the entries are read back (SQLite's external merge sort). When a path was staged
 * more than once, the real entry yielded last wins over earlier ones and over made-up ancestors.
 */
export interface StagedRoots {
  vfs: Buffer
  names: Buffer
  types: Buffer
  /** Summary of everything under `root`. */
  summary: Summary
  entries: number
  /** Entries copied as stored from the parent snapshot's tree (subtrees carried over). */
  carried: number
}

const BATCH = 32_768

/**
 * Rows go in ROWS at a time, one INSERT of many rows: a statement's run costs a few
 * microseconds of crossing into SQLite and back whatever it holds, and a file staged three rows
 * (its entry, its name, its type), one statement each.
 */
const ROWS = 64

/** Rows waiting for one multi-row INSERT into `table` (RowBuffer.flush also writes what is left). */
class RowBuffer {
  readonly #many: Database.Statement
  readonly #one: Database.Statement
  readonly #columns: number
  #values: unknown[] = []

  constructor(db: Database.Database, table: string, columns: number) {
    const row = `(${Array(columns).fill('?').join(', ')})`
    this.#many = db.prepare(`INSERT INTO ${table} VALUES ${Array(ROWS).fill(row).join(', ')}`)
    this.#one = db.prepare(`INSERT INTO ${table} VALUES ${row}`)
    this.#columns = columns
  }

  add(...values: unknown[]): void {
    for (const value of values) this.#values.push(value)
    if (this.#values.length === ROWS * this.#columns) {
      this.#many.run(this.#values)
      this.#values = []
    }
  }

  flush(): void {
    for (let at = 0; at < this.#values.length; at += this.#columns) this.#one.run(this.#values.slice(at, at + this.#columns))
    this.#values = []
  }
}

/** The parent snapshot's trees, to carry unchanged subtrees from (SubtreeReuse). */
export interface ParentTrees {
  vfs: TreeReader
  names: TreeReader
  types: TreeReader
}

/** Whether `entries` are exactly what `stored` yields, keys and stored values. */
async function sameEntries(entries: [Buffer, Buffer][], stored: AsyncGenerator<[Buffer, Buffer]>): Promise<boolean> {
  let i = 0
  for await (const [k, v] of stored) {
    if (i >= entries.length || !entries[i][0].equals(k) || !entries[i][1].equals(v)) return false
    i++
  }
  return i === entries.length
}

/** Staging directories are named after their host and process, so abandoned ones can be found. */
const HOST = hostname().replace(/[^A-Za-z0-9.]/g, '_')
const DIR_NAME = /^plakar-staging-([A-Za-z0-9._]*)-(\d+)-[A-Za-z0-9]{6}$/

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Removes the staging directories of backups of this host whose process is gone (killed, or
 * a second Ctrl-C, which exits at once): each may hold hundreds of megabytes.
 */
function removeAbandoned(tmpRoot: string): void {
  let names: string[]
  try {
    names = readdirSync(tmpRoot)
  } catch {
    return
  }
  for (const name of names) {
    const match = DIR_NAME.exec(name)
    if (!match || match[1] !== HOST || alive(Number(match[2]))) continue
    rmSync(join(tmpRoot, name), {recursive: true, force: true})
  }
}

interface Row {
  key: Buffer
  type: EntryType
  size: number
  ctype: string | null
  error: number
  synthetic: number
  /** Only for subtrees carried over: the directory's entry as stored in the parent snapshot. */
  value: Buffer | null
}

/** `synthetic` of a row: a real entry, a made-up ancestor, a subtree carried over from the parent snapshot. */
const REAL = 0
const MADE_UP = 1
const CARRIED = 2

export class Staging {
  readonly #dir: string
  readonly #db: Database.Database
  readonly #insert: RowBuffer
  readonly #insertName: RowBuffer
  readonly #insertType: RowBuffer
  /** Directories recently known to exist: spares most ancestor inserts. */
  readonly #known = new Set<string>()
  /** Subtrees carried over and then brought back entry by entry (SubtreeReuse): their row no longer counts. */
  readonly #dropped = new Set<string>()
  #batch = 0
  #seq = 0

  constructor(tmpRoot: string) {
    removeAbandoned(tmpRoot)
    this.#dir = mkdtempSync(join(tmpRoot, `plakar-staging-${HOST}-${process.pid}-`))
    this.#db = new Database(join(this.#dir, 'staging.sqlite'))
    // A throwaway database: no durability, and a WAL so a second connection can write the
    // summaries while the first one reads the entries. No durability first: switching to the
    // WAL under the default (FULL) synchronized the new file four times, 30-40 ms of every
    // backup's start on a busy disk.
    this.#db.pragma('synchronous = OFF')
    this.#db.pragma('journal_mode = WAL')
    this.#db.pragma('wal_autocheckpoint = 16384')
    // 8 MB of page cache (and as much for each sort): entries are appended, and sorts spill to
    // files anyway. 32 MB cost 50 MB of peak memory on 300,000 files for no measured speed.
    this.#db.pragma('cache_size = -8192')
    this.#db.pragma('temp_store = FILE')
    this.#db.exec(`
      CREATE TABLE entries(key BLOB NOT NULL, synthetic INTEGER NOT NULL, type TEXT NOT NULL,
        size INTEGER NOT NULL, ctype TEXT, error INTEGER NOT NULL, value BLOB NOT NULL, seq INTEGER NOT NULL);
      CREATE TABLE summaries(key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
      CREATE TABLE names(key BLOB NOT NULL);
      CREATE TABLE types(key BLOB NOT NULL);
    `)
    this.#insert = new RowBuffer(this.#db, 'entries', 8)
    this.#insertName = new RowBuffer(this.#db, 'names', 1)
    this.#insertType = new RowBuffer(this.#db, 'types', 1)
    this.#db.exec('BEGIN')
  }

  /**
   * A place in the importer's order, taken when a record is yielded: files are staged when their
   * content has been read, in any order, and a path yielded twice (a tar importer gives a hard
   * link's target again with its link count) must keep the later record.
   */
  reserve(): number {
    return ++this.#seq
  }

  add(path: string, entry: Entry, seq = this.reserve()): void {
    const key = pathToKey(path)
    const type: EntryType = entry.info.type
    this.#insert.add(key, 0, type, entry.info.size ?? 0, entry.info.contentType ?? null, entry.error ? 1 : 0, encodeEntry(entry), seq)
    if (path !== '/') {
      this.#insertName.add(Buffer.from(`${basename(path).toLowerCase()}\0${path}`))
      if (type === 'file' && entry.info.contentType) this.#insertType.add(Buffer.from(`${entry.info.contentType}\0${path}`))
    }
    if (type === 'directory') this.#known.add(key.toString('latin1'))
    this.#ensureAncestors(key)
    if (++this.#batch >= BATCH) this.#commit(true)
  }

  /**
   * A whole subtree carried over unchanged from the parent snapshot (SubtreeReuse): `stored` is
   * the directory's entry as stored there. The build copies the subtree's stored entries.
   */
  addReused(path: string, stored: Buffer, seq = this.reserve()): void {
    const key = pathToKey(path)
    this.#insert.add(key, CARRIED, 'directory', 0, null, 0, stored, seq)
    this.#known.add(key.toString('latin1'))
    this.#ensureAncestors(key)
    if (++this.#batch >= BATCH) this.#commit(true)
  }

  /** Writes the rows waiting and commits them; `more`: a new transaction follows. */
  #commit(more: boolean): void {
    this.#insert.flush()
    this.#insertName.flush()
    this.#insertType.flush()
    this.#db.exec(more ? 'COMMIT; BEGIN' : 'COMMIT')
    this.#batch = 0
  }

  /** A subtree added by addReused is staged entry by entry instead. */
  dropReused(path: string): void {
    this.#dropped.add(pathToKey(path).toString('latin1'))
  }

  /** Importers need not yield directories (an S3 bucket has none): make up the missing ones. */
  #ensureAncestors(key: Buffer): void {
    let parent = parentKey(key)
    while (parent !== undefined) {
      const id = parent.toString('latin1')
      if (this.#known.has(id)) return
      if (this.#known.size > 10_000) this.#known.clear()
      this.#known.add(id)
      this.#insert.add(parent, MADE_UP, 'directory', 0, null, 0, encodeEntry({info: {type: 'directory', size: 0, mode: 0o755}}), 0)
      const path = keyToPath(parent)
      if (path !== '/') this.#insertName.add(Buffer.from(`${basename(path).toLowerCase()}\0${path}`))
      parent = parentKey(parent)
    }
  }

  /**
   * The winning row of each key, in key order (or reverse): real entries over made-up
   * ancestors, and among real entries the one yielded last (reserve()).
   */
  *#entries<T extends {key: Buffer; synthetic: number}>(columns: string, descending: boolean): Generator<T> {
    // A carried subtree ranks as a real entry (it is one, with everything below it).
    const rank = `(CASE synthetic WHEN ${MADE_UP} THEN 1 ELSE 0 END)`
    const order = descending ? `key DESC, ${rank} ASC, seq DESC` : `key ASC, ${rank} DESC, seq ASC`
    const rows = this.#db.prepare(`SELECT ${columns}, synthetic FROM entries ORDER BY ${order}`).iterate() as IterableIterator<T>
    let held: T | undefined
    for (const row of rows) {
      if (row.synthetic === CARRIED && this.#dropped.size > 0 && this.#dropped.has(row.key.toString('latin1'))) continue
      if (held && !held.key.equals(row.key)) {
        yield held
        held = undefined
      }
      // Ascending, the winner is the last of its key; descending, the first.
      if (!descending || !held) held = row
    }
    if (held) yield held
  }

  /**
   * Computes directory summaries (children before parents, by a reverse scan with a stack of
   * open directories), then builds the file tree and both indexes, storing their nodes.
   */
  async build(store: NodeStore, seed: number, root: string, parent?: ParentTrees): Promise<StagedRoots> {
    this.#commit(false)
    this.#computeSummaries()
    const rootKey = pathToKey(root)
    // Nothing changed: the root's subtree is carried whole, and only made-up ancestors precede
    // it. If those equal the parent's too, the parent's three trees are this snapshot's.
    const whole = parent !== undefined && this.#onlyCarried(rootKey)
    const above: [Buffer, Buffer][] = []
    // Index rows of carried subtrees go in through a second connection while the first one reads.
    const indexWriter = new Database(join(this.#dir, 'staging.sqlite'))
    const insertName = indexWriter.prepare('INSERT INTO names VALUES (?)')
    const insertType = indexWriter.prepare('INSERT INTO types VALUES (?)')
    indexWriter.exec('BEGIN')
    let indexed = 0
    let carried = 0
    /** The subtree at `key`, as stored in the parent snapshot: entries go in as they are, never decoded again but for the indexes. */
    const carry = async (key: Buffer): Promise<void> => {
      if (!parent) throw new Error('a subtree was carried over without a parent snapshot')
      for await (const [k, v] of parent.vfs.scan(key, subtreeEnd(key))) {
        await vfs.add(k, v)
        carried++
        const path = keyToPath(k)
        if (path === '/') continue
        insertName.run(Buffer.from(`${basename(path).toLowerCase()}\0${path}`))
        const entry = decodeEntry(v)
        if (entry.info.type === 'file' && entry.info.contentType) insertType.run(Buffer.from(`${entry.info.contentType}\0${path}`))
        if (++indexed % BATCH === 0) indexWriter.exec('COMMIT; BEGIN')
      }
    }
    const vfs = new TreeBuilder(store, BlobType.VFS_NODE, seed)
    let rootSummary: Summary = emptySummary()
    // Summaries are looked up by key rather than joined, because entries have no index.
    const reader = new Database(join(this.#dir, 'staging.sqlite'), {readonly: true})
    const lookup = reader.prepare('SELECT value FROM summaries WHERE key = ?').pluck()
    try {
      for (const row of this.#entries<{key: Buffer; type: string; value: Buffer; synthetic: number}>('key, type, value', false)) {
        if (row.synthetic === CARRIED) {
          if (row.key.equals(rootKey)) rootSummary = decodeEntry(row.value).summary?.below ?? emptySummary()
          if (whole) {
            if (await sameEntries(above, parent!.vfs.scan(Buffer.alloc(0), rootKey))) {
              const {files, directories, symlinks, others, errors} = rootSummary
              const count = above.length + 1 + files + directories + symlinks + others + errors
              return {vfs: parent!.vfs.root, names: parent!.names.root, types: parent!.types.root, summary: rootSummary, entries: count, carried: count - above.length}
            }
            for (const [k, v] of above) await vfs.add(k, v)
          }
          await carry(row.key)
          continue
        }
        let value = row.value
        if (row.type === 'directory') {
          const summary = lookup.get(row.key) as Buffer | undefined
          if (summary) {
            const entry = decodeEntry(row.value)
            entry.summary = decode<{direct: Summary; below: Summary}>(summary)
            value = encodeEntry(entry)
            if (row.key.equals(rootKey)) rootSummary = entry.summary.below
          }
        } else if (row.key.equals(rootKey)) {
          // A backup of one file: the snapshot's summary is that file.
          const entry = decodeEntry(row.value)
          rootSummary = contribution(entry.info.type, entry.info.size ?? 0, entry.info.contentType, !!entry.error)
        }
        if (whole) above.push([row.key, value])
        else await vfs.add(row.key, value)
      }
      indexWriter.exec('COMMIT')
    } finally {
      reader.close()
      indexWriter.close()
    }
    const names = await this.#buildIndex(store, seed, BlobType.NAME_NODE, 'names')
    const types = await this.#buildIndex(store, seed, BlobType.TYPE_NODE, 'types')
    return {vfs: await vfs.finish(), names, types, summary: rootSummary, entries: vfs.count, carried}
  }

  /** Whether the only entry that is not a made-up ancestor is the root's subtree, carried. */
  #onlyCarried(rootKey: Buffer): boolean {
    const rows = this.#db.prepare(`SELECT key, synthetic FROM entries WHERE synthetic != ${MADE_UP} LIMIT 2`).all() as {key: Buffer; synthetic: number}[]
    return rows.length === 1 && rows[0].synthetic === CARRIED && rows[0].key.equals(rootKey) && !this.#dropped.has(rootKey.toString('latin1'))
  }

  async #buildIndex(store: NodeStore, seed: number, type: number, table: string): Promise<Buffer> {
    const builder = new TreeBuilder(store, type, seed)
    const empty = Buffer.alloc(0)
    let last: Buffer | undefined
    for (const key of this.#db.prepare(`SELECT key FROM ${table} ORDER BY key`).pluck().iterate() as IterableIterator<Buffer>) {
      if (last?.equals(key)) continue
      last = key
      await builder.add(key, empty)
    }
    return builder.finish()
  }

  #computeSummaries(): void {
    // A second connection writes summaries while the first one iterates (WAL allows both).
    const writer = new Database(join(this.#dir, 'staging.sqlite'))
    const put = writer.prepare('INSERT OR REPLACE INTO summaries VALUES (?, ?)')
    writer.exec('BEGIN')
    type Frame = {key: Buffer; direct: Summary; below: Summary}
    const stack: Frame[] = []
    let n = 0
    for (const row of this.#entries<Row>(`key, type, size, ctype, error, CASE synthetic WHEN ${CARRIED} THEN value END AS value`, true)) {
      const own = contribution(row.type, row.size, row.ctype ?? undefined, row.error === 1)
      const below = emptySummary()
      addSummary(below, own)
      const top = stack.at(-1)
      if (row.synthetic === CARRIED) {
        // Unchanged since the parent snapshot: so is the summary stored with its entry.
        const carried = decodeEntry(row.value!).summary
        if (carried) addSummary(below, carried.below)
        if (top && top.key.equals(row.key)) addSummary(below, stack.pop()!.below)
      } else if (row.type === 'directory') {
        const frame = top && top.key.equals(row.key) ? stack.pop()! : {key: row.key, direct: emptySummary(), below: emptySummary()}
        put.run(row.key, encode({direct: frame.direct, below: frame.below}))
        addSummary(below, frame.below)
        if (++n % BATCH === 0) writer.exec('COMMIT; BEGIN')
      } else if (top && top.key.equals(row.key)) {
        // An importer gave entries below something that is not a directory: close their frame
        // here (counted above), or it would stay on the stack and swallow later siblings.
        addSummary(below, stack.pop()!.below)
      }
      const parent = parentKey(row.key)
      if (parent === undefined) continue
      let frame = stack.at(-1)
      if (!frame || !frame.key.equals(parent)) {
        frame = {key: parent, direct: emptySummary(), below: emptySummary()}
        stack.push(frame)
      }
      addSummary(frame.direct, own)
      addSummary(frame.below, below)
    }
    writer.exec('COMMIT')
    writer.close()
  }

  /** This backup's own temporary directory, removed by close(): data packfiles spill there too. */
  get dir(): string {
    return this.#dir
  }

  close(): void {
    try {
      this.#db.close()
    } finally {
      rmSync(this.#dir, {recursive: true, force: true})
    }
  }
}
