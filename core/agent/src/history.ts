import Database from 'better-sqlite3'
import {mkdirSync} from 'node:fs'
import {dirname} from 'node:path'

/**
 * The agent's run history, in SQLite (WAL): one row per due time of a task — run, skipped
 * because the previous run was still going, or missed while the agent was down — plus each
 * task's next due time, so `agent status` reads everything without asking the daemon.
 * A row is written when a run starts (result "running") and completed when it ends; a row
 * still "running" when an agent starts belongs to an agent that was killed: "interrupted".
 */
export type RunResult = 'running' | 'success' | 'failure' | 'skipped' | 'missed' | 'interrupted'

export interface RunRecord {
  id: number
  task: string
  kind: string
  /** When the run was due (ms since the epoch). */
  due: number
  started?: number
  finished?: number
  result: RunResult
  snapshot?: string
  /** Why it failed or was skipped, one line. */
  error?: string
  /** Problems of hooks and health checks, which do not change the result. */
  warnings: string[]
  /** What the task did, in the words of the matching command's --json (backup: files, size…). */
  details?: Record<string, unknown>
  pid: number
}

interface Row {
  id: number
  task: string
  kind: string
  due: number
  started: number | null
  finished: number | null
  result: RunResult
  snapshot: string | null
  error: string | null
  warnings: string
  details: string | null
  pid: number
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  task TEXT NOT NULL,
  kind TEXT NOT NULL,
  due INTEGER NOT NULL,
  started INTEGER,
  finished INTEGER,
  result TEXT NOT NULL,
  snapshot TEXT,
  error TEXT,
  warnings TEXT NOT NULL DEFAULT '[]',
  details TEXT,
  pid INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_task ON runs (task, id);
CREATE TABLE IF NOT EXISTS next_runs (
  task TEXT PRIMARY KEY,
  due INTEGER NOT NULL,
  fires INTEGER NOT NULL
);
`

export class History {
  readonly #db: Database.Database

  constructor(path: string, options: {readonly?: boolean} = {}) {
    if (!options.readonly) mkdirSync(dirname(path), {recursive: true, mode: 0o700})
    this.#db = new Database(path, {readonly: !!options.readonly, fileMustExist: !!options.readonly})
    // Readers (agent status) and the writer (the daemon) meet in WAL mode; a busy writer makes
    // a reader wait a little instead of failing.
    this.#db.pragma('busy_timeout = 5000')
    if (!options.readonly) {
      this.#db.pragma('journal_mode = WAL')
      this.#db.exec(SCHEMA)
    }
  }

  /** Rows left "running" by an agent that was killed: they were interrupted. */
  closeInterrupted(options: {pid?: number; error?: string} = {}): number {
    const error = options.error ?? 'the agent stopped during the run'
    if (options.pid !== undefined) {
      return this.#db.prepare(`UPDATE runs SET result = 'interrupted', error = ?, finished = ? WHERE result = 'running' AND pid = ?`).run(error, Date.now(), options.pid).changes
    }
    return this.#db.prepare(`UPDATE runs SET result = 'interrupted', error = ? WHERE result = 'running'`).run(error).changes
  }

  start(task: string, kind: string, due: number, started: number): number {
    const r = this.#db.prepare(`INSERT INTO runs (task, kind, due, started, result, pid) VALUES (?, ?, ?, ?, 'running', ?)`).run(task, kind, due, started, process.pid)
    return Number(r.lastInsertRowid)
  }

  finish(id: number, outcome: {result: RunResult; finished: number; snapshot?: string; error?: string; warnings: string[]; details?: Record<string, unknown>}): void {
    this.#db
      .prepare(`UPDATE runs SET result = ?, finished = ?, snapshot = ?, error = ?, warnings = ?, details = ? WHERE id = ?`)
      .run(outcome.result, outcome.finished, outcome.snapshot ?? null, outcome.error ?? null, JSON.stringify(outcome.warnings), outcome.details ? JSON.stringify(outcome.details) : null, id)
  }

  /** A due time that did not run: skipped (the previous run still going) or missed (agent down). */
  note(task: string, kind: string, due: number, result: 'skipped' | 'missed', error: string): void {
    this.#db.prepare(`INSERT INTO runs (task, kind, due, result, error, pid) VALUES (?, ?, ?, ?, ?, ?)`).run(task, kind, due, result, error, process.pid)
  }

  setNext(task: string, due: number, fires: number): void {
    this.#db.prepare(`INSERT INTO next_runs (task, due, fires) VALUES (?, ?, ?) ON CONFLICT (task) DO UPDATE SET due = excluded.due, fires = excluded.fires`).run(task, due, fires)
  }

  clearNext(): void {
    this.#db.prepare(`DELETE FROM next_runs`).run()
  }

  next(task: string): {due: number; fires: number} | undefined {
    return this.#db.prepare(`SELECT due, fires FROM next_runs WHERE task = ?`).get(task) as {due: number; fires: number} | undefined
  }

  /** The latest due time recorded for a task (anchor of its schedule after a restart). */
  lastDue(task: string): number | undefined {
    const row = this.#db.prepare(`SELECT MAX(due) AS due FROM runs WHERE task = ?`).get(task) as {due: number | null}
    return row.due ?? undefined
  }

  /** The latest run of a task that started (skipped and missed due times aside). */
  lastRun(task: string): RunRecord | undefined {
    const row = this.#db.prepare(`SELECT * FROM runs WHERE task = ? AND started IS NOT NULL ORDER BY id DESC LIMIT 1`).get(task) as Row | undefined
    return row && record(row)
  }

  /** The newest rows first. */
  runs(options: {task?: string; limit?: number} = {}): RunRecord[] {
    const rows = (
      options.task === undefined
        ? this.#db.prepare(`SELECT * FROM runs ORDER BY id DESC LIMIT ?`).all(options.limit ?? -1)
        : this.#db.prepare(`SELECT * FROM runs WHERE task = ? ORDER BY id DESC LIMIT ?`).all(options.task, options.limit ?? -1)
    ) as Row[]
    return rows.map(record)
  }

  counts(task: string): Record<RunResult, number> {
    const out: Record<RunResult, number> = {running: 0, success: 0, failure: 0, skipped: 0, missed: 0, interrupted: 0}
    for (const row of this.#db.prepare(`SELECT result, COUNT(*) AS n FROM runs WHERE task = ? GROUP BY result`).all(task) as {result: RunResult; n: number}[]) out[row.result] = row.n
    return out
  }

  close(): void {
    this.#db.close()
  }
}

function record(row: Row): RunRecord {
  return {
    id: row.id,
    task: row.task,
    kind: row.kind,
    due: row.due,
    started: row.started ?? undefined,
    finished: row.finished ?? undefined,
    result: row.result,
    snapshot: row.snapshot ?? undefined,
    error: row.error ?? undefined,
    warnings: JSON.parse(row.warnings) as string[],
    details: row.details ? (JSON.parse(row.details) as Record<string, unknown>) : undefined,
    pid: row.pid,
  }
}
