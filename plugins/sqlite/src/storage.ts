import {existsSync} from 'node:fs'
import {mkdir, open} from 'node:fs/promises'
import {dirname} from 'node:path'
import {Readable} from 'node:stream'
// Type only: better-sqlite3 itself is imported when a database is opened (it is a native module
// and the CLI must not pay for it at start-up).
import type BetterSqlite3 from 'better-sqlite3'
import {
  destroyOnAbort,
  checkObjectId,
  ExitCode,
  ObjectNotFoundError,
  PlakarError,
  type CallOptions,
  type ConnectorContext,
  type PutOptions,
  type Id,
  type Kind,
  type Range,
  type Storage,
  type StorageCapabilities,
} from '@plakar/sdk'
import {sqlitePath} from './location.js'

type Database = BetterSqlite3.Database

/** Identifies our databases; `version` is the layout below. */
const FORMAT = 'plakar-sqlite'
const VERSION = 1
const KIND_CODE: Record<Kind, number> = {packfile: 1, state: 2, lock: 3}

/**
 * Objects are stored as rows of at most `chunkSize` bytes. better-sqlite3 has no incremental
 * blob I/O, and SQLite reads a whole value to return any part of it (substr() included), so
 * chunk rows are what make streaming and range reads cheap: a put holds one chunk in memory, a
 * range read touches only the chunks it overlaps. Measured with bench/chunk-size.mjs (16 MiB
 * objects, 512 MiB, 64 KiB pages): 64 KiB rows write at ≈200 MB/s, 256 KiB ≈430, 1 MiB ≈560,
 * 4 MiB ≈400; a 64 KiB range read costs 0.06–0.09 ms with rows up to 256 KiB, ≈0.2–0.4 ms with
 * 1 MiB rows, ≈1.8 ms with 4 MiB rows. The engine's blobs average 1 MiB, so their range reads
 * touch one or two 1 MiB rows whatever the row size: 1 MiB wins.
 */
export const DEFAULT_CHUNK_SIZE = 1024 * 1024
/** Page size of new databases: 16 overflow pages per 1 MiB row instead of 256 (writes 2-4× faster). */
const PAGE_SIZE = 65536
/** How long a writer waits for another process's write transaction (better-sqlite3 `timeout`). */
const BUSY_TIMEOUT_MS = 60_000
/** Uploads abandoned (crash, kill -9) for this long are reclaimed when a database is opened. */
const ABANDONED_AFTER_MS = 24 * 3600 * 1000
/** Rows per page of list(): the statement is never held open across a yield. */
const LIST_PAGE = 1000

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
-- One row per stored object, written last: an object exists once this row is committed.
CREATE TABLE IF NOT EXISTS objects (
  kind INTEGER NOT NULL, id TEXT NOT NULL, content INTEGER NOT NULL, size INTEGER NOT NULL, chunk_size INTEGER NOT NULL,
  PRIMARY KEY (kind, id)
) WITHOUT ROWID;
-- One row per upload. AUTOINCREMENT: a content number is never reused, so a reader streaming a
-- deleted object can never be handed the chunks of a newer one.
CREATE TABLE IF NOT EXISTS contents (content INTEGER PRIMARY KEY AUTOINCREMENT, created INTEGER NOT NULL, committed INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS chunks (content INTEGER NOT NULL, seq INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (content, seq));
`

interface ObjectRow {
  content: number
  size: number
  chunk_size: number
}

export interface SqliteStorageOptions {
  /** Bytes per chunk row of new objects (default 1 MiB). */
  chunkSize?: number
  /** Page size of a new database file (default 64 KiB). */
  pageSize?: number
}

/**
 * A repository in one SQLite file (WAL mode). Several processes may use it at once: SQLite lets
 * one writer in at a time and the others wait (busy timeout); every write transaction here is
 * short (one chunk, or the final commit of an object), so concurrent backups interleave.
 *
 * put() streams the object into `chunks` under a fresh content number, outside any long
 * transaction, then commits the `objects` row in one short IMMEDIATE transaction: a reader sees
 * the whole object or nothing, and a second put of the same id (sequential, concurrent, or from
 * another process) finds the row and drops its own chunks. A put interrupted by a crash leaves
 * only uncommitted chunks, reclaimed a day later by the next open.
 */
export class SqliteStorage implements Storage {
  readonly location: string
  readonly localPath: string
  readonly #chunkSize: number
  readonly #pageSize: number
  #db: Database | undefined
  #opening: Promise<Database> | undefined
  #closed = false

  constructor(file: string, options: SqliteStorageOptions = {}) {
    this.location = `sqlite:${file}`
    this.localPath = file
    this.#chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE
    this.#pageSize = options.pageSize ?? PAGE_SIZE
  }

  /** Opens (or, for create, makes) the database once; concurrent callers share the attempt. */
  #connect(create = false): Promise<Database> {
    if (this.#closed) return Promise.reject(new PlakarError(`${this.location} is closed`))
    if (this.#db) return Promise.resolve(this.#db)
    this.#opening ??= this.#open(create).then(
      (db) => {
        this.#db = db
        return db
      },
      (error) => {
        this.#opening = undefined
        throw error
      },
    )
    return this.#opening
  }

  async #open(create: boolean): Promise<Database> {
    if (!create && !existsSync(this.localPath)) throw new ObjectNotFoundError(`no repository at ${this.location}`)
    if (create) {
      await mkdir(dirname(this.localPath), {recursive: true, mode: 0o700})
      // SQLite would create the file 0644 (less the umask); its -wal and -shm files take the
      // database file's mode. A repository is private like the fs layout (0600), whatever the umask.
      await (await open(this.localPath, 'a', 0o600)).close()
    }
    const {default: Database} = await import('better-sqlite3')
    let db: Database
    try {
      db = new Database(this.localPath, {timeout: BUSY_TIMEOUT_MS, fileMustExist: !create})
    } catch (error) {
      throw this.#translate(error)
    }
    try {
      // Before the first table exists these two shape the file; afterwards they are no-ops.
      db.pragma(`page_size = ${this.#pageSize}`)
      db.pragma('auto_vacuum = INCREMENTAL')
      if (db.pragma('journal_mode = WAL', {simple: true}) !== 'wal') {
        throw new PlakarError(`${this.location}: SQLite cannot use WAL mode on this filesystem (a network filesystem?)`)
      }
      // NORMAL for chunk rows; every object commit runs under FULL (see #durably), which syncs
      // the WAL and with it every chunk written before.
      db.pragma('synchronous = NORMAL')
      db.pragma('foreign_keys = OFF')
      // The WAL shrinks back to this after a checkpoint instead of staying at its peak size.
      db.pragma(`journal_size_limit = ${64 * 1024 * 1024}`)
      if (!create) this.#checkFormat(db)
      this.#reclaimAbandoned(db)
    } catch (error) {
      db.close()
      throw this.#translate(error)
    }
    return db
  }

  #checkFormat(db: Database): void {
    const hasMeta = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'`).get()
    if (!hasMeta) throw new ObjectNotFoundError(`no repository at ${this.location} (an SQLite file, but not a plakar repository)`)
    const format = this.#meta(db, 'format')
    if (format === undefined) throw new ObjectNotFoundError(`no repository at ${this.location}`)
    if (format.toString() !== FORMAT) throw new PlakarError(`${this.location} is not a plakar repository`)
    const version = Number(this.#meta(db, 'version')?.toString())
    if (!(version <= VERSION)) {
      throw new PlakarError(
        `${this.location} uses SQLite layout version ${version}, newer than this plugin's ${VERSION}: upgrade @plakar/plugin-sqlite`,
        ExitCode.FORMAT_TOO_NEW,
      )
    }
  }

  #meta(db: Database, key: string): Buffer | undefined {
    const row = db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as {value: Buffer | string} | undefined
    if (row === undefined) return undefined
    return Buffer.isBuffer(row.value) ? row.value : Buffer.from(String(row.value))
  }

  #reclaimAbandoned(db: Database): void {
    const hasContents = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'contents'`).get()
    if (!hasContents) return
    const cutoff = Date.now() - ABANDONED_AFTER_MS
    const stale = db.prepare('SELECT content FROM contents WHERE committed = 0 AND created < ? LIMIT 1').get(cutoff)
    if (!stale) return
    db.transaction(() => {
      db.prepare('DELETE FROM chunks WHERE content IN (SELECT content FROM contents WHERE committed = 0 AND created < ?)').run(cutoff)
      db.prepare('DELETE FROM contents WHERE committed = 0 AND created < ?').run(cutoff)
    }).immediate()
  }

  #translate(error: unknown): unknown {
    const code = (error as {code?: string}).code
    if (code === 'SQLITE_NOTADB') return new PlakarError(`${this.location} is not an SQLite database`)
    if (code === 'SQLITE_CANTOPEN') {
      return existsSync(this.localPath)
        ? new PlakarError(`cannot open ${this.location}: permission denied or not a file`)
        : new ObjectNotFoundError(`no repository at ${this.location}`)
    }
    if (code === 'SQLITE_BUSY') return new PlakarError(`${this.location} stayed locked by another process for ${BUSY_TIMEOUT_MS / 1000} s`)
    if (code === 'SQLITE_FULL') return new PlakarError(`${this.location}: no space left on the device`)
    if (code === 'SQLITE_READONLY') return new PlakarError(`${this.location} is read-only`)
    if (code === 'SQLITE_CORRUPT') return new PlakarError(`${this.location} is damaged (SQLite reports corruption)`)
    return error
  }

  /** Runs a synchronous database step, turning SQLite's errors into one-line messages. */
  #run<T>(fn: () => T): T {
    try {
      return fn()
    } catch (error) {
      throw this.#translate(error)
    }
  }

  /** A write transaction whose commit is synced to disk (synchronous = FULL), then back to NORMAL. */
  #durably<T>(db: Database, fn: () => T): T {
    db.pragma('synchronous = FULL')
    try {
      return db.transaction(fn).immediate()
    } finally {
      db.pragma('synchronous = NORMAL')
    }
  }

  #check(kind: Kind, id: Id): number {
    // Rows, not files: only the id rule of the SDK's layout applies (no directories, no CONFIG file).
    checkObjectId(id)
    const code = KIND_CODE[kind]
    if (code === undefined) throw new PlakarError(`invalid object kind "${String(kind)}"`)
    return code
  }

  async create(config: Uint8Array, options?: CallOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    const db = await this.#connect(true)
    this.#run(() =>
      this.#durably(db, () => {
        const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`).all() as {name: string}[]
        const ours = new Set(['meta', 'objects', 'contents', 'chunks'])
        if (tables.some((t) => !ours.has(t.name))) {
          throw new PlakarError(`cannot create a repository in ${this.localPath}: it is an SQLite database of something else`)
        }
        db.exec(SCHEMA)
        if (this.#meta(db, 'config') !== undefined) throw new PlakarError(`a repository already exists at ${this.location}`)
        const set = db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)')
        set.run('format', FORMAT)
        set.run('version', String(VERSION))
        set.run('config', Buffer.from(config))
      }),
    )
  }

  async open(options?: CallOptions): Promise<Uint8Array> {
    options?.signal?.throwIfAborted()
    const db = await this.#connect()
    const config = this.#run(() => this.#meta(db, 'config'))
    if (config === undefined) throw new ObjectNotFoundError(`no repository at ${this.location}`)
    return config
  }

  /** One UPDATE in a durable transaction: SQLite's journal makes it all or nothing. */
  async replaceConfig(config: Uint8Array, options?: CallOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    const db = await this.#connect()
    const replaced = this.#run(() =>
      this.#durably(db, () => db.prepare(`UPDATE meta SET value = ? WHERE key = 'config'`).run(Buffer.from(config)).changes),
    )
    if (replaced === 0) throw new ObjectNotFoundError(`no repository at ${this.location}`)
  }

  async *list(kind: Kind, options?: CallOptions): AsyncGenerator<Id> {
    for await (const {id} of this.listWithSizes(kind, options)) yield id
  }

  async *listWithSizes(kind: Kind, options?: CallOptions): AsyncGenerator<{id: Id; size: number}> {
    options?.signal?.throwIfAborted()
    const code = KIND_CODE[kind]
    const db = await this.#connect()
    const page = db.prepare('SELECT id, size FROM objects WHERE kind = ? AND id > ? ORDER BY id LIMIT ?')
    let after = ''
    for (;;) {
      const rows = this.#run(() => page.all(code, after, LIST_PAGE)) as {id: string; size: number}[]
      yield* rows
      if (rows.length < LIST_PAGE) return
      after = rows[rows.length - 1].id
    }
  }

  #find(db: Database, code: number, id: Id): ObjectRow | undefined {
    return this.#run(() => db.prepare('SELECT content, size, chunk_size FROM objects WHERE kind = ? AND id = ?').get(code, id)) as
      | ObjectRow
      | undefined
  }

  async put(kind: Kind, id: Id, data: Readable, size: number, options?: PutOptions): Promise<void> {
    const code = this.#check(kind, id)
    options?.signal?.throwIfAborted()
    // An abort destroys the source: the chunk loop below ends with the abort, and the chunks
    // written so far stay uncommitted (reclaimed as any failed put's).
    destroyOnAbort(data, options?.signal)
    if (!Number.isSafeInteger(size) || size < 0) throw new PlakarError(`invalid size ${size} for ${kind} ${id}`)
    const db = await this.#connect()
    const existing = this.#find(db, code, id)
    if (existing && existing.size === size) {
      // Idempotent: the same id always has the same bytes.
      data.destroy()
      return
    }
    const chunkSize = this.#chunkSize
    const content = Number(this.#run(() => db.prepare('INSERT INTO contents (created) VALUES (?)').run(Date.now()).lastInsertRowid))
    const insert = db.prepare('INSERT INTO chunks (content, seq, data) VALUES (?, ?, ?)')
    let seq = 0
    let written = 0
    let buffer = Buffer.allocUnsafe(Math.min(chunkSize, Math.max(size, 1)))
    let filled = 0
    const flush = () => {
      if (filled === 0) return
      this.#run(() => insert.run(content, seq++, buffer.subarray(0, filled)))
      written += filled
      filled = 0
      const left = size - written
      if (left > 0 && left < buffer.length) buffer = Buffer.allocUnsafe(left)
    }
    try {
      for await (const part of data as AsyncIterable<Uint8Array | string>) {
        let bytes = typeof part === 'string' ? Buffer.from(part) : part
        while (bytes.length > 0) {
          if (written + filled + bytes.length > size) {
            throw new PlakarError(`${kind} ${id}: the data is longer than the announced ${size} bytes`)
          }
          const n = Math.min(bytes.length, buffer.length - filled)
          buffer.set(bytes.subarray(0, n), filled)
          filled += n
          bytes = bytes.subarray(n)
          if (filled === buffer.length) flush()
        }
      }
      flush()
      if (written !== size) throw new PlakarError(`short write: expected ${size} bytes, got ${written}`)
      this.#run(() =>
        this.#durably(db, () => {
          const row = db.prepare('SELECT size FROM objects WHERE kind = ? AND id = ?').get(code, id) as {size: number} | undefined
          if (row?.size === size) {
            // Someone (another put, another process) committed it first: keep theirs.
            db.prepare('DELETE FROM chunks WHERE content = ?').run(content)
            db.prepare('DELETE FROM contents WHERE content = ?').run(content)
            return
          }
          if (row) this.#deleteObject(db, code, id)
          db.prepare('INSERT INTO objects (kind, id, content, size, chunk_size) VALUES (?, ?, ?, ?, ?)').run(code, id, content, size, chunkSize)
          db.prepare('UPDATE contents SET committed = 1 WHERE content = ?').run(content)
        }),
      )
    } catch (error) {
      data.destroy()
      try {
        db.transaction(() => {
          db.prepare('DELETE FROM chunks WHERE content = ?').run(content)
          db.prepare('DELETE FROM contents WHERE content = ? AND committed = 0').run(content)
        }).immediate()
      } catch {
        // Left for the reclaim on a later open.
      }
      throw error
    }
  }

  async get(kind: Kind, id: Id, range?: Range, options?: CallOptions): Promise<Readable> {
    options?.signal?.throwIfAborted()
    const stream = await this.#read(kind, id, range)
    return destroyOnAbort(stream, options?.signal)
  }

  async #read(kind: Kind, id: Id, range?: Range): Promise<Readable> {
    const code = this.#check(kind, id)
    const db = await this.#connect()
    const row = this.#find(db, code, id)
    if (!row) throw new ObjectNotFoundError(`${kind} ${id} not found`)
    let offset = 0
    let length = row.size
    if (range) {
      if (!(range.offset >= 0 && range.length >= 0 && range.offset + range.length <= row.size)) {
        throw new PlakarError(`range ${range.offset}+${range.length} is outside ${kind} ${id} (${row.size} bytes)`)
      }
      offset = range.offset
      length = range.length
    }
    const chunk = db.prepare('SELECT data FROM chunks WHERE content = ? AND seq = ?').pluck()
    let seq = Math.floor(offset / row.chunk_size)
    let skip = offset - seq * row.chunk_size
    let left = length
    const location = this.location
    const translate = (error: unknown) => this.#translate(error) as Error
    return new Readable({
      // One chunk row per read(): the stream holds a chunk or two, never the object.
      highWaterMark: 1,
      read(this: Readable) {
        if (left === 0) {
          this.push(null)
          return
        }
        let data: Buffer | undefined
        try {
          data = chunk.get(row.content, seq) as Buffer | undefined
        } catch (error) {
          this.destroy(translate(error))
          return
        }
        if (data === undefined) {
          this.destroy(new ObjectNotFoundError(`${kind} ${id} was deleted while it was read from ${location}`))
          return
        }
        const piece = data.subarray(skip, Math.min(data.length, skip + left))
        if (piece.length === 0) {
          this.destroy(new PlakarError(`${kind} ${id} is truncated in ${location}`))
          return
        }
        seq++
        skip = 0
        left -= piece.length
        this.push(piece)
      },
    })
  }

  async stat(kind: Kind, id: Id, options?: CallOptions): Promise<{size: number}> {
    options?.signal?.throwIfAborted()
    const code = this.#check(kind, id)
    const db = await this.#connect()
    const row = this.#find(db, code, id)
    if (!row) throw new ObjectNotFoundError(`${kind} ${id} not found`)
    return {size: row.size}
  }

  #deleteObject(db: Database, code: number, id: Id): void {
    const row = db.prepare('SELECT content FROM objects WHERE kind = ? AND id = ?').get(code, id) as {content: number} | undefined
    if (!row) return
    db.prepare('DELETE FROM objects WHERE kind = ? AND id = ?').run(code, id)
    db.prepare('DELETE FROM chunks WHERE content = ?').run(row.content)
    db.prepare('DELETE FROM contents WHERE content = ?').run(row.content)
  }

  async delete(kind: Kind, id: Id, options?: CallOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    const code = this.#check(kind, id)
    const db = await this.#connect()
    this.#run(() => this.#durably(db, () => this.#deleteObject(db, code, id)))
  }

  capabilities(): StorageCapabilities {
    return {write: true, delete: true}
  }

  async close(): Promise<void> {
    this.#closed = true
    const db = this.#db ?? (await this.#opening?.catch(() => undefined))
    this.#db = undefined
    this.#opening = undefined
    if (!db?.open) return
    try {
      // Housekeeping must not wait for another process's long transaction.
      db.pragma('busy_timeout = 200')
      // Give freed pages back to the filesystem (deleted packfiles), a bounded amount at a time.
      const free = db.pragma('freelist_count', {simple: true}) as number
      if (free > 0) db.pragma('incremental_vacuum(4096)')
      db.pragma('optimize')
    } catch {
      // Another process holds the write lock: leave it for next time.
    } finally {
      db.close()
    }
  }
}

export default async function createStorage(context: ConnectorContext): Promise<Storage> {
  return new SqliteStorage(sqlitePath(context.location))
}

/** Refuses a location the factory would refuse ("sqlite:" without a path), without touching the file. */
export function checkLocation(location: string): void {
  sqlitePath(location)
}
