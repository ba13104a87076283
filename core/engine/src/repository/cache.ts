import Database from 'better-sqlite3'
import {mkdirSync} from 'node:fs'
import {dirname} from 'node:path'
import {decode, encode} from '../format/codec.js'
import type {SnapshotInfo} from '../format/snapshot.js'
import type {StateDelta} from '../format/state.js'

/** MACs per query of LocalCache.packsOf and LocalCache.locateAll. */
const LOCATE_BATCH = 128
/** MACs per query of LocalCache.unindexed. */
const UNINDEXED_BATCH = 512
/** The most of the cache file LocalCache.readMapped maps. */
const MAP_BYTES = 1 << 30

/**
 * The local cache of a repository: every state delta merged into SQLite, so that dedup lookups
 * and blob locations need no round trip and no memory proportional to the repository.
 * It holds nothing that cannot be rebuilt from the states: deleting it is always safe.
 * WAL mode and a busy timeout let several plakar processes share it.
 */
export interface BlobLocation {
  pack: string
  offset: number
  length: number
  rawLength: number
}

export interface CachedSnapshot {
  id: Buffer
  header: Buffer
  time: number
  /** From the state that named it; absent for states written before states carried it. */
  info?: SnapshotInfo
  /** The tags of the latest tag edit, when there was one. */
  editedTags?: string[]
}

/**
 * 4: a blob may have several locations (one per packfile holding it), so that a blob stored
 * again after its packfile was lost is found whatever order the states are merged in.
 * 5: packfiles marked for deletion by maintenance (pack_marks, packfiles.marked).
 * 7: where each packfile's last indexed blob ends (packfiles.blob_end), kept as blobs are merged:
 * the lost-packfile check at every backup's start read it with a GROUP BY over every blob.
 * 8: blobs_by_pack covers the blobs' places (offset, length, raw): listing a packfile's blobs was
 * a search of the primary key per row (check of 300,000 small files: 0.8-1.0 s of its main
 * thread for 28 packfiles, 0.25-0.45 s covered), for about 6 % more file.
 */
const SCHEMA_VERSION = 8

/**
 * The packfile → blobs index. Its order is (pack, mac, type), the keyset of indexPageOfPack's
 * pages; the places make it a covering index for every per-packfile listing.
 */
const BLOBS_BY_PACK = 'CREATE INDEX blobs_by_pack ON blobs(pack, mac, type, offset, length, raw)'

/**
 * Whether the repository index has a blob (parameters: mac, type): indexed, in a packfile that
 * is neither deleted nor marked for deletion by maintenance. The one query for it, on the main thread (LocalCache.hasBlob) and on the
 * chunking workers' own read-only connections.
 */
export const KNOWN_BLOB_SQL = 'SELECT 1 FROM blobs b JOIN packfiles p ON p.n = b.pack WHERE b.mac = ? AND b.type = ? AND p.deleted = 0 AND p.marked = 0 LIMIT 1'

export class LocalCache {
  readonly db: Database.Database
  readonly path: string
  readonly #stmts: ReturnType<LocalCache['prepare']>

  constructor(path: string) {
    this.path = path
    mkdirSync(dirname(path), {recursive: true, mode: 0o700})
    this.db = new Database(path)
    this.db.pragma('busy_timeout = 30000')
    this.db.pragma('journal_mode = WAL')
    this.db.pragma('synchronous = NORMAL')
    // Several processes may open a new cache at once: look at the schema and create it under
    // the write lock, or two of them race through DROP/CREATE ("table states already exists").
    this.db
      .transaction(() => {
        const version = this.db.pragma('user_version', {simple: true}) as number
        if (version === 6) this.#migrateFrom6()
        if (version === 6 || version === 7) this.#migrateFrom7()
        else if (version !== SCHEMA_VERSION) this.#reset()
      })
      .immediate()
    this.#stmts = this.prepare()
  }

  #reset(): void {
    this.db.exec(`
      DROP TABLE IF EXISTS states; DROP TABLE IF EXISTS packfiles; DROP TABLE IF EXISTS blobs;
      DROP TABLE IF EXISTS snapshots; DROP TABLE IF EXISTS deleted_snapshots;
      DROP TABLE IF EXISTS deleted_packfiles; DROP TABLE IF EXISTS headers; DROP TABLE IF EXISTS tag_edits; DROP TABLE IF EXISTS pack_marks;
      CREATE TABLE states(id TEXT PRIMARY KEY) WITHOUT ROWID;
      CREATE TABLE packfiles(n INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
        deleted INTEGER NOT NULL DEFAULT 0, marked INTEGER NOT NULL DEFAULT 0, blob_end INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE blobs(mac BLOB NOT NULL, type INTEGER NOT NULL, pack INTEGER NOT NULL,
        offset INTEGER NOT NULL, length INTEGER NOT NULL, raw INTEGER NOT NULL,
        PRIMARY KEY(mac, type, pack)) WITHOUT ROWID;
      CREATE TABLE pack_marks(id TEXT PRIMARY KEY, marked INTEGER NOT NULL DEFAULT 0, unmarked INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
      ${BLOBS_BY_PACK};
      CREATE TABLE snapshots(id BLOB PRIMARY KEY, header BLOB NOT NULL, time INTEGER NOT NULL, info BLOB) WITHOUT ROWID;
      CREATE TABLE tag_edits(id BLOB PRIMARY KEY, tags BLOB NOT NULL, time INTEGER NOT NULL, rank TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE deleted_snapshots(id BLOB PRIMARY KEY, time INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE deleted_packfiles(id TEXT PRIMARY KEY) WITHOUT ROWID;
      CREATE TABLE headers(id BLOB PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID;
      DROP TABLE IF EXISTS superseded_states;
      CREATE TABLE superseded_states(id TEXT PRIMARY KEY) WITHOUT ROWID;
      -- Not dropped by clear(): what a rebuild found missing waits here until check reports it.
      CREATE TABLE IF NOT EXISTS vanished_states(id TEXT PRIMARY KEY, noticed INTEGER NOT NULL) WITHOUT ROWID;
    `)
    this.db.pragma(`user_version = ${SCHEMA_VERSION}`)
  }

  /** Version 6 lacked packfiles.blob_end: computed once from the blobs, nothing else changes (no refresh from the states). */
  #migrateFrom6(): void {
    this.db.exec(`
      ALTER TABLE packfiles ADD COLUMN blob_end INTEGER NOT NULL DEFAULT 0;
      UPDATE packfiles SET blob_end = coalesce((SELECT max(b.offset + b.length) FROM blobs b WHERE b.pack = packfiles.n), 0);
    `)
  }

  /** Version 7's blobs_by_pack held only (pack, mac, type): rebuilt covering (about 0.5 s per 300,000 blobs, once). */
  #migrateFrom7(): void {
    this.db.exec(`DROP INDEX IF EXISTS blobs_by_pack; ${BLOBS_BY_PACK}`)
    this.db.pragma(`user_version = ${SCHEMA_VERSION}`)
  }

  private prepare() {
    const db = this.db
    return {
      stateIds: db.prepare('SELECT id FROM states').pluck(),
      addSuperseded: db.prepare('INSERT OR IGNORE INTO superseded_states(id) VALUES (?)'),
      supersededIds: db.prepare('SELECT id FROM superseded_states').pluck(),
      addVanished: db.prepare('INSERT OR IGNORE INTO vanished_states(id, noticed) VALUES (?, ?)'),
      vanished: db.prepare('SELECT id, noticed FROM vanished_states ORDER BY id'),
      forgetVanished: db.prepare('DELETE FROM vanished_states WHERE id = ?'),
      addState: db.prepare('INSERT OR IGNORE INTO states(id) VALUES (?)'),
      // Deletions may be merged before or after the packfile they name: both ways set the flag.
      addPack: db.prepare(
        `INSERT OR IGNORE INTO packfiles(id, kind, deleted, marked) VALUES (@id, @kind, EXISTS(SELECT 1 FROM deleted_packfiles WHERE id = @id),
         EXISTS(SELECT 1 FROM pack_marks WHERE id = @id AND marked > unmarked))`,
      ),
      // Marks and unmarks merge by their latest time, in any order: a packfile is marked when
      // its latest mark is newer than its latest unmark.
      mark: db.prepare(
        'INSERT INTO pack_marks(id, marked) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET marked = max(marked, excluded.marked)',
      ),
      unmark: db.prepare(
        'INSERT INTO pack_marks(id, unmarked) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET unmarked = max(unmarked, excluded.unmarked)',
      ),
      flagMarked: db.prepare(
        'UPDATE packfiles SET marked = coalesce((SELECT marked > unmarked FROM pack_marks WHERE pack_marks.id = packfiles.id), 0) WHERE id = ?',
      ),
      markedPacks: db.prepare(
        'SELECT m.id AS id, m.marked AS marked FROM pack_marks m JOIN packfiles p ON p.id = m.id WHERE m.marked > m.unmarked AND p.deleted = 0 ORDER BY m.id',
      ),
      markedCopy: db.prepare(
        `SELECT p.id AS pack, m.marked AS marked FROM blobs b JOIN packfiles p ON p.n = b.pack JOIN pack_marks m ON m.id = p.id
         WHERE b.mac = ? AND b.type = ? AND p.deleted = 0 AND p.marked = 1 LIMIT 1`,
      ),
      flagDeleted: db.prepare('UPDATE packfiles SET deleted = 1 WHERE id = ?'),
      packNumber: db.prepare('SELECT n FROM packfiles WHERE id = ?').pluck(),
      // Every location is kept: lookups take any live one, so a blob stored again after its
      // packfile was deleted or lost is found whichever state is merged first.
      addBlob: db.prepare('INSERT OR IGNORE INTO blobs(mac, type, pack, offset, length, raw) VALUES (?, ?, ?, ?, ?, ?)'),
      hasBlob: db.prepare(KNOWN_BLOB_SQL).pluck(),
      locate: db.prepare(
        `SELECT p.id AS pack, b.offset AS offset, b.length AS length, b.raw AS rawLength FROM blobs b JOIN packfiles p ON p.n = b.pack
         WHERE b.mac = ? AND b.type = ? AND p.deleted = 0 AND p.marked = 0 ORDER BY b.pack LIMIT 1`,
      ),
      // A state carrying the info may come after one that did not (compaction): keep the info.
      addSnapshot: db.prepare(
        'INSERT INTO snapshots(id, header, time, info) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET info = coalesce(snapshots.info, excluded.info)',
      ),
      // Latest edit wins whatever the merge order; equal times fall back to a total order.
      editTags: db.prepare(
        `INSERT INTO tag_edits(id, tags, time, rank) VALUES (@id, @tags, @time, @rank)
         ON CONFLICT(id) DO UPDATE SET tags = excluded.tags, time = excluded.time, rank = excluded.rank
         WHERE excluded.time > tag_edits.time OR (excluded.time = tag_edits.time AND excluded.rank > tag_edits.rank)`,
      ),
      deleteSnapshot: db.prepare('INSERT OR IGNORE INTO deleted_snapshots(id, time) VALUES (?, ?)'),
      deletePack: db.prepare('INSERT OR IGNORE INTO deleted_packfiles(id) VALUES (?)'),
      anyDeletedPack: db.prepare('SELECT 1 FROM deleted_packfiles UNION ALL SELECT 1 FROM pack_marks LIMIT 1'),
      snapshots: db.prepare(
        `SELECT s.id AS id, s.header AS header, s.time AS time, s.info AS info, t.tags AS edited FROM snapshots s
         LEFT JOIN tag_edits t ON t.id = s.id WHERE s.id NOT IN (SELECT id FROM deleted_snapshots) ORDER BY s.time, s.id`,
      ),
      header: db.prepare('SELECT data FROM headers WHERE id = ?').pluck(),
      putHeader: db.prepare('INSERT OR REPLACE INTO headers(id, data) VALUES (?, ?)'),
      packfiles: db.prepare('SELECT id, kind FROM packfiles WHERE deleted = 0 AND marked = 0'),
      packfileEnds: db.prepare('SELECT id, blob_end AS end FROM packfiles WHERE deleted = 0 AND marked = 0 AND blob_end > 0'),
      extendPack: db.prepare('UPDATE packfiles SET blob_end = max(blob_end, ?) WHERE n = ?'),
      blobsOfPack: db.prepare(
        'SELECT b.mac AS mac, b.type AS type, b.offset AS offset, b.length AS length, b.raw AS raw FROM blobs b JOIN packfiles p ON p.n = b.pack WHERE p.id = ? ORDER BY b.offset',
      ),
      // For check: the MAC in hex (a string, not a buffer per row), in no particular order.
      blobListOfPack: db
        .prepare('SELECT lower(hex(b.mac)), b.type, b.offset, b.length FROM blobs b WHERE b.pack = (SELECT n FROM packfiles WHERE id = ?)')
        .raw(true),
      locateAny: db.prepare(
        `SELECT p.id AS pack, b.offset AS offset, b.length AS length, b.raw AS rawLength FROM blobs b JOIN packfiles p ON p.n = b.pack
         WHERE b.mac = ? AND b.type = ? AND p.deleted = 0 ORDER BY p.marked, b.pack LIMIT 1`,
      ),
      indexOfPack: db
        .prepare('SELECT b.type, b.mac, b.offset, b.length, b.raw FROM blobs b JOIN packfiles p ON p.n = b.pack WHERE p.id = ? ORDER BY b.offset')
        .raw(true),
      // Keyset pages in the order of the blobs_by_pack index (pack, then the primary key):
      // a range of the index, where pages in offset order would sort the packfile's rows again
      // for each page.
      indexPageOfPack: db
        .prepare('SELECT type, mac, offset, length, raw FROM blobs WHERE pack = ? AND (mac, type) > (?, ?) ORDER BY mac, type LIMIT ?')
        .raw(true),
      allPackfiles: db.prepare('SELECT id, kind, marked FROM packfiles WHERE deleted = 0 ORDER BY n'),
      tagEdits: db.prepare('SELECT id, tags, time FROM tag_edits'),
      // Every live location of LOCATE_BATCH MACs at once (locateAll, packsOf).
      locateBatch: db
        .prepare(
          `SELECT b.mac, b.pack, p.id, b.offset, b.length, b.raw FROM blobs b JOIN packfiles p ON p.n = b.pack
           WHERE b.type = ? AND p.deleted = 0 AND p.marked = 0 AND b.mac IN (${Array(LOCATE_BATCH).fill('?').join(',')})`,
        )
        .raw(true),
      // The MACs of a batch that no live packfile indexes: nothing comes back for those found,
      // and no row crosses into JavaScript when every one is (the common case).
      unindexed: db
        .prepare(
          `WITH r(mac) AS (VALUES ${Array(UNINDEXED_BATCH).fill('(?)').join(',')})
           SELECT DISTINCT r.mac FROM r WHERE NOT EXISTS (SELECT 1 FROM blobs b JOIN packfiles p ON p.n = b.pack
           WHERE b.mac = r.mac AND b.type = ? AND p.deleted = 0 AND p.marked = 0)`,
        )
        .pluck(),
      packfileEnd: db.prepare('SELECT blob_end FROM packfiles WHERE id = ?').pluck(),
      // One pass over the table in its own order. (Through blobs_by_pack before it covered the
      // lengths, each row was a search of the primary key: 0.45 s for 300,000 small files.)
      blobBytesByPack: db.prepare(
        'SELECT p.id, t.bytes FROM (SELECT pack, sum(length) AS bytes FROM blobs NOT INDEXED GROUP BY pack) t JOIN packfiles p ON p.n = t.pack WHERE p.deleted = 0',
      ).raw(true),
      blobBytesOfPack: db.prepare(
        'SELECT coalesce(sum(b.length), 0) FROM blobs b JOIN packfiles p ON p.n = b.pack WHERE p.id = ?',
      ).pluck(),
      stats: db.prepare(
        'SELECT count(*) AS blobs, coalesce(sum(b.length), 0) AS stored, coalesce(sum(b.raw), 0) AS raw FROM blobs b JOIN packfiles p ON p.n = b.pack WHERE p.deleted = 0',
      ),
      deletedPackfiles: db.prepare('SELECT id FROM deleted_packfiles').pluck(),
    }
  }

  /**
   * From now on, reads the cache file through a memory map instead of a system call and a copy
   * per page. For a command that reads most of the index in no useful order (check: every
   * packfile's blobs, every chunk a file references), where SQLite's own 2 MiB of pages hold
   * little of it: on 300,000 small files (a 31 MB cache) the lookups took a third of the time.
   * The mapped pages are the kernel's page cache, shared, and dropped under memory pressure.
   */
  readMapped(): void {
    this.db.pragma(`mmap_size = ${MAP_BYTES}`)
  }

  knownStates(): Set<string> {
    return new Set(this.#stmts.stateIds.all() as string[])
  }

  /** Merges one state delta; idempotent, so deltas may be merged in any order, more than once. */
  applyState(id: string, delta: StateDelta): void {
    this.applyStates([{id, delta}])
  }

  /**
   * Merges several state deltas in one transaction: 10,000 small states (hourly backups before
   * any compaction) merged one transaction each spent most of a cold `ls` committing.
   */
  applyStates(states: {id: string; delta: StateDelta}[]): void {
    this.db.transaction(() => {
      for (const {id, delta} of states) this.#merge(id, delta)
    })()
  }

  #merge(id: string, delta: StateDelta): void {
    const s = this.#stmts
    {
      for (const pack of delta.deletedPackfiles) {
        s.deletePack.run(pack)
        s.flagDeleted.run(pack)
      }
      for (const pack of delta.packfiles) {
        s.addPack.run({id: pack.id, kind: pack.kind})
        const n = s.packNumber.get(pack.id) as number
        let end = 0
        for (const [type, mac, offset, length, raw] of pack.blobs) {
          s.addBlob.run(mac, type, n, offset, length, raw)
          end = Math.max(end, offset + length)
        }
        if (end > 0) s.extendPack.run(end, n)
      }
      for (const snap of delta.snapshots) s.addSnapshot.run(snap.id, snap.header, snap.time, snap.info ? encode(snap.info) : null)
      for (const edit of delta.tagEdits) {
        s.editTags.run({id: edit.id, tags: encode(edit.tags), time: edit.time, rank: JSON.stringify(edit.tags)})
      }
      for (const del of delta.deletedSnapshots) s.deleteSnapshot.run(del.id, del.time)
      for (const m of delta.markedPackfiles) {
        s.mark.run(m.id, m.time)
        s.flagMarked.run(m.id)
      }
      for (const m of delta.unmarkedPackfiles) {
        s.unmark.run(m.id, m.time)
        s.flagMarked.run(m.id)
      }
      for (const old of delta.supersedes) s.addSuperseded.run(old)
      s.addState.run(id)
    }
  }

  /** States that compactions replaced (every `supersedes` merged): gone from the storage on purpose. */
  supersededStates(): Set<string> {
    return new Set(this.#stmts.supersededIds.all() as string[])
  }

  /**
   * States this cache had merged that left the storage although no compaction replaced them:
   * whatever they recorded (snapshots, deletions) is lost. Kept across rebuilds until
   * {@link forgetVanishedStates}, so that `check` reports them even after another command
   * noticed first.
   */
  vanishedStates(): {id: string; noticed: number}[] {
    return this.#stmts.vanished.all() as {id: string; noticed: number}[]
  }

  addVanishedStates(ids: string[], noticed = Date.now()): void {
    this.db.transaction(() => {
      for (const id of ids) this.#stmts.addVanished.run(id, noticed)
    })()
  }

  forgetVanishedStates(ids: string[]): void {
    this.db.transaction(() => {
      for (const id of ids) this.#stmts.forgetVanished.run(id)
    })()
  }

  /** Forgets everything: used when the states in the repository no longer match the cache. */
  clear(): void {
    this.db.transaction(() => this.#reset())()
  }

  /** Packfiles some state says are gone (deleted by maintenance, or found lost). */
  deletedPackfiles(): Set<string> {
    return new Set(this.#stmts.deletedPackfiles.all() as string[])
  }

  /**
   * Deletions a compacted state must repeat: of snapshots and packfiles that some merged state
   * lists. If a compaction dies after deleting some of the old states, the ones left still
   * list those snapshots and packfiles, and only the compacted state can say they are gone.
   * Deletions of what no merged state lists are not repeated, so the list does not grow forever.
   */
  tombstones(): {snapshots: {id: Buffer; time: number}[]; packfiles: string[]} {
    return {
      snapshots: this.db.prepare('SELECT d.id AS id, d.time AS time FROM deleted_snapshots d JOIN snapshots s ON s.id = d.id').all() as {id: Buffer; time: number}[],
      packfiles: this.db.prepare('SELECT id FROM packfiles WHERE deleted = 1').pluck().all() as string[],
    }
  }

  /**
   * After this client compacted the states (its compacted states merged here as they were
   * written): forgets the superseded states it deleted, and what a cache rebuilt from the
   * compacted states would not hold, so that the two answer every query alike: packfiles
   * deleted and their index entries (compaction lists neither), snapshots deleted (their
   * tombstones stay), tag edits of snapshots no longer listed, deletions and marks compaction
   * did not repeat. Only when every superseded state is gone from the storage: a state that
   * stays (object lock) is merged again by a rebuild, with whatever it lists.
   */
  forgetCompactedStates(ids: string[]): void {
    const forget = this.db.prepare('DELETE FROM states WHERE id = ?')
    this.db.transaction(() => {
      for (const id of ids) forget.run(id)
      // In this order: the deletions kept are the tombstones compaction wrote (tombstones()).
      this.db.exec(`
        DELETE FROM deleted_snapshots WHERE id NOT IN (SELECT id FROM snapshots);
        DELETE FROM snapshots WHERE id IN (SELECT id FROM deleted_snapshots);
        DELETE FROM tag_edits WHERE id NOT IN (SELECT id FROM snapshots);
        DELETE FROM deleted_packfiles WHERE id NOT IN (SELECT id FROM packfiles WHERE deleted = 1);
        DELETE FROM pack_marks WHERE NOT (marked > unmarked AND id IN (SELECT id FROM packfiles WHERE deleted = 0));
        DELETE FROM blobs WHERE pack IN (SELECT n FROM packfiles WHERE deleted = 1);
        DELETE FROM packfiles WHERE deleted = 1;
      `)
    })()
  }

  /** Packfiles marked for deletion by maintenance and not deleted yet, with the time of the mark. */
  markedPackfiles(): {id: string; marked: number}[] {
    return this.#stmts.markedPacks.all() as {id: string; marked: number}[]
  }

  /** A marked packfile holding the blob, when only marked ones do (for a clear error). */
  markedCopy(type: number, mac: Buffer): {pack: string; marked: number} | undefined {
    return this.#stmts.markedCopy.get(mac, type) as {pack: string; marked: number} | undefined
  }

  /** Whether maintenance deleted or marked packfiles: blobs of older snapshots may be gone. */
  hasDeletedPackfiles(): boolean {
    return this.#stmts.anyDeletedPack.get() !== undefined
  }

  hasBlob(type: number, mac: Buffer): boolean {
    return this.#stmts.hasBlob.get(mac, type) !== undefined
  }

  locate(type: number, mac: Buffer): BlobLocation | undefined {
    return this.#stmts.locate.get(mac, type) as BlobLocation | undefined
  }

  /**
   * `locate` for each of `macs` (all of one type), in their order: one query per LOCATE_BATCH
   * MACs instead of one per MAC. A restore locates every chunk it reads, and a query per chunk
   * cost 9 µs of which most is crossing into SQLite and back and building its row (3 µs per MAC
   * in batches; a source-tree restore spent a tenth of its main thread in `locate`).
   */
  locateAll(type: number, macs: readonly Buffer[]): (BlobLocation | undefined)[] {
    const found = new Map<string, {n: number; location: BlobLocation}>()
    for (const [mac, n, pack, offset, length, rawLength] of this.#locations(type, macs)) {
      const key = mac.toString('latin1')
      const known = found.get(key)
      // The lowest packfile number, as locate's ORDER BY … LIMIT 1 picks it.
      if (!known || n < known.n) found.set(key, {n, location: {pack, offset, length, rawLength}})
    }
    return macs.map((mac) => found.get(mac.toString('latin1'))?.location)
  }

  /** Every live location of `macs` (all of one type): MAC, packfile number and id, offset, length, raw length. */
  *#locations(type: number, macs: readonly Buffer[]): Generator<[Buffer, number, string, number, number, number]> {
    for (const batch of padded(macs, LOCATE_BATCH)) {
      yield* this.#stmts.locateBatch.all(type, ...batch) as [Buffer, number, string, number, number, number][]
    }
  }

  /**
   * The packfile of each of `macs` (all of one type) that is indexed in a live packfile, by MAC
   * in hex. One query per LOCATE_BATCH MACs: a query per blob spends most of its time crossing
   * from JavaScript into SQLite and back (check of 300,000 small files: 28 % of its main thread).
   */
  packsOf(type: number, macs: Buffer[]): Map<string, string> {
    const found = new Map<string, string>()
    for (const [mac, , pack] of this.#locations(type, macs)) found.set(mac.toString('hex'), pack)
    return found
  }

  /**
   * Those of `macs` (all of one type) that no live packfile indexes. For a check that verifies
   * every live packfile anyway, where which packfile holds each blob does not matter: no row per
   * MAC crosses back from SQLite, and batches are four times larger than packsOf's.
   */
  unindexed(type: number, macs: Buffer[]): Buffer[] {
    const missing: Buffer[] = []
    for (const batch of padded(macs, UNINDEXED_BATCH)) missing.push(...(this.#stmts.unindexed.all(...batch, type) as Buffer[]))
    return missing
  }

  snapshots(): CachedSnapshot[] {
    const rows = this.#stmts.snapshots.all() as {id: Buffer; header: Buffer; time: number; info: Buffer | null; edited: Buffer | null}[]
    return rows.map((r) => ({
      id: r.id,
      header: r.header,
      time: r.time,
      ...(r.info ? {info: decode<SnapshotInfo>(r.info)} : {}),
      ...(r.edited ? {editedTags: decode<string[]>(r.edited)} : {}),
    }))
  }

  isSnapshotDeleted(id: Buffer): boolean {
    return this.db.prepare('SELECT 1 FROM deleted_snapshots WHERE id = ?').get(id) !== undefined
  }

  cachedHeader(id: Buffer): Buffer | undefined {
    return this.#stmts.header.get(id) as Buffer | undefined
  }

  cacheHeader(id: Buffer, data: Buffer): void {
    this.#stmts.putHeader.run(id, data)
  }

  /** Where the last indexed blob of each live packfile ends: a packfile is at least this long. */
  packfileEnds(): Map<string, number> {
    return new Map((this.#stmts.packfileEnds.all() as {id: string; end: number}[]).map((r) => [r.id, r.end]))
  }

  /** Where the last indexed blob of one packfile ends (0 when none is indexed). */
  packfileEnd(pack: string): number {
    return (this.#stmts.packfileEnd.get(pack) as number | null) ?? 0
  }

  packfiles(): {id: string; kind: string}[] {
    return this.#stmts.packfiles.all() as {id: string; kind: string}[]
  }

  blobsOfPack(pack: string): {mac: Buffer; type: number; offset: number; length: number; raw: number}[] {
    return this.#stmts.blobsOfPack.all(pack) as {mac: Buffer; type: number; offset: number; length: number; raw: number}[]
  }

  /**
   * Every blob one packfile indexes, as [MAC in hex, type, offset, length] in no particular
   * order: what check verifies. A buffer per MAC (blobsOfPack) is an ArrayBuffer each, to
   * create and collect: on 300,000 small files, more than the query.
   */
  blobListOfPack(pack: string): [mac: string, type: number, offset: number, length: number][] {
    return this.#stmts.blobListOfPack.all(pack) as [string, number, number, number][]
  }

  /** Like locate, but a packfile marked for deletion serves when no other does (maintenance). */
  locateAny(type: number, mac: Buffer): BlobLocation | undefined {
    return this.#stmts.locateAny.get(mac, type) as BlobLocation | undefined
  }

  /** Every packfile not deleted, marked ones included, in the order they were indexed. */
  allPackfiles(): {id: string; kind: string; marked: number}[] {
    return this.#stmts.allPackfiles.all() as {id: string; kind: string; marked: number}[]
  }

  tagEdits(): {id: Buffer; tags: string[]; time: number}[] {
    return (this.#stmts.tagEdits.all() as {id: Buffer; tags: Buffer; time: number}[]).map((r) => ({id: r.id, tags: decode<string[]>(r.tags), time: r.time}))
  }

  /**
   * A set of blobs in a temporary table of this connection (maintenance's live set): on disk
   * through SQLite, so a repository of millions of blobs does not hold them on the heap.
   */
  blobSet(): BlobSet {
    return new BlobSet(this.db)
  }

  /**
   * The index entries of a packfile as a state lists them: [type, mac, offset, length, rawLength]
   * (sync, compaction). Rows come as arrays, not objects remapped: compaction lists every blob
   * of the repository this way, and the garbage of two objects per blob was most of its memory.
   */
  indexOfPack(pack: string): [number, Buffer, number, number, number][] {
    return this.#stmts.indexOfPack.all(pack) as [number, Buffer, number, number, number][]
  }

  /**
   * The same entries as {@link indexOfPack}, in MAC order, read a page at a time: compaction
   * lists the whole index this way, with no more than a page of rows in memory. Each page is a
   * finished query, so the connection is free to write between pages (compaction writes states
   * as it goes).
   */
  *indexEntriesOfPack(pack: string, page = 1024): Generator<[number, Buffer, number, number, number]> {
    const n = this.#stmts.packNumber.get(pack) as number | undefined
    if (n === undefined) return
    let after: [Buffer, number] = [Buffer.alloc(0), 0]
    for (;;) {
      const rows = this.#stmts.indexPageOfPack.all(n, ...after, page) as [number, Buffer, number, number, number][]
      yield* rows
      if (rows.length < page) return
      const [type, mac] = rows[rows.length - 1]
      after = [mac, type]
    }
  }

  /** The kind of a live packfile ("data" or "meta"), or undefined when it is not indexed. */
  packKind(pack: string): string | undefined {
    return (this.db.prepare('SELECT kind FROM packfiles WHERE id = ? AND deleted = 0').pluck().get(pack) as string | undefined) ?? undefined
  }

  /** blobBytesOfPack of every packfile not deleted that holds blobs, in one query. */
  blobBytesByPack(): Map<string, number> {
    return new Map(this.#stmts.blobBytesByPack.all() as [string, number][])
  }

  /** Bytes of the blobs a packfile holds (its size, less headers and index). */
  blobBytesOfPack(pack: string): number {
    return this.#stmts.blobBytesOfPack.get(pack) as number
  }

  stats(): {blobs: number; stored: number; raw: number} {
    return this.#stmts.stats.get() as {blobs: number; stored: number; raw: number}
  }

  close(): void {
    this.db.close()
  }
}

/** KiB of page cache of the temporary schema that holds blob sets. */
const BLOBSET_CACHE_KIB = 4096

export class BlobSet {
  readonly #db: Database.Database
  readonly #name = `blobset_${process.pid}_${Math.floor(Math.random() * 1e9)}`
  readonly #has: Database.Statement
  readonly #add: Database.Statement
  /** Inserts are batched in one transaction per BATCH blobs: one per blob is slow. */
  #pending = new Map<string, [number, Buffer]>()

  constructor(db: Database.Database) {
    this.#db = db
    // The temporary schema has its own page cache (16 MB by default, on top of the index's):
    // the set is read back in key order or probed once per reference, so a small cache costs
    // little time, and the pages stay in the OS page cache of the temporary file anyway.
    db.pragma(`temp.cache_size = ${-BLOBSET_CACHE_KIB}`)
    db.exec(`CREATE TEMP TABLE ${this.#name}(mac BLOB NOT NULL, type INTEGER NOT NULL, PRIMARY KEY(mac, type)) WITHOUT ROWID`)
    this.#has = db.prepare(`SELECT 1 FROM temp.${this.#name} WHERE mac = ? AND type = ?`).pluck()
    this.#add = db.prepare(`INSERT OR IGNORE INTO temp.${this.#name}(mac, type) VALUES (?, ?)`)
  }

  has(type: number, mac: Buffer): boolean {
    return this.#pending.has(`${type}:${mac.toString('hex')}`) || this.#has.get(mac, type) !== undefined
  }

  /** Adds a blob; false when it was there already. */
  add(type: number, mac: Buffer): boolean {
    if (this.has(type, mac)) return false
    this.#pending.set(`${type}:${mac.toString('hex')}`, [type, Buffer.from(mac)])
    if (this.#pending.size >= 4096) this.flush()
    return true
  }

  flush(): void {
    const rows = [...this.#pending.values()]
    this.#db.transaction(() => {
      for (const [type, mac] of rows) this.#add.run(mac, type)
    })()
    this.#pending.clear()
  }

  /** Every blob of the set, in batches (the iteration reads from SQLite, not from memory). */
  *entries(): Generator<{type: number; mac: Buffer}> {
    this.flush()
    let after: {mac: Buffer; type: number} | undefined
    const first = this.#db.prepare(`SELECT mac, type FROM temp.${this.#name} ORDER BY mac, type LIMIT 4096`)
    const next = this.#db.prepare(`SELECT mac, type FROM temp.${this.#name} WHERE (mac, type) > (?, ?) ORDER BY mac, type LIMIT 4096`)
    for (;;) {
      const rows = (after ? next.all(after.mac, after.type) : first.all()) as {mac: Buffer; type: number}[]
      if (rows.length === 0) return
      yield* rows
      after = rows[rows.length - 1]
    }
  }

  size(): number {
    this.flush()
    return this.#db.prepare(`SELECT count(*) FROM temp.${this.#name}`).pluck().get() as number
  }

  drop(): void {
    this.#pending.clear()
    this.#db.exec(`DROP TABLE IF EXISTS temp.${this.#name}`)
  }
}

/**
 * `items` in batches of `size` for a statement with that many parameters: the last batch is
 * filled up by repeating its last item (a repeated MAC finds nothing more).
 */
function* padded<T>(items: readonly T[], size: number): Generator<T[]> {
  for (let at = 0; at < items.length; at += size) {
    const batch = items.slice(at, at + size)
    while (batch.length < size) batch.push(batch[batch.length - 1])
    yield batch
  }
}
