import {randomBytes} from 'node:crypto'
import {readFileSync} from 'node:fs'
import {hostname} from 'node:os'
import {EnvelopeType, openEnvelope, sealEnvelope} from '../format/codec.js'
import {isNotFound, PlakarError, readableFrom, readAll} from '@plakar/sdk'
import type {Repository} from './repository.js'
import {requireWritable} from './storage-capabilities.js'

/**
 * Repository locks. Writers (backup, rm) take shared locks; maintenance takes an exclusive one.
 * A lock is a sealed object naming its owner; it expires `ttl` after its last refresh, so a
 * crashed process never blocks the repository for longer than that. Refreshing writes a new
 * lock object and deletes the previous one (storages need not support overwrite).
 * Acquiring is optimistic: write ours, then look at the others, and back off on conflict.
 */
export const LOCK_VERSION = 1
export const DEFAULT_LOCK_TTL_MS = 15 * 60_000

export type LockMode = 'shared' | 'exclusive'

export interface LockInfo {
  mode: LockMode
  host: string
  pid: number
  user: string
  created: number
  expires: number
}

export interface LockOwner {
  host: string
  pid: number
  user: string
}

export class LockedError extends PlakarError {
  constructor(message: string) {
    super(message, 1)
  }
}

export class RepositoryLock {
  readonly #repo: Repository
  readonly #info: LockInfo
  readonly #ttl: number
  #id: string
  #timer?: NodeJS.Timeout
  #released = false
  /** When the last lock object written stops counting. */
  #expires: number

  private constructor(repo: Repository, id: string, info: LockInfo, ttl: number) {
    this.#repo = repo
    this.#id = id
    this.#info = info
    this.#ttl = ttl
    this.#expires = info.expires
  }

  static async acquire(repo: Repository, mode: LockMode, owner: LockOwner, ttl = DEFAULT_LOCK_TTL_MS): Promise<RepositoryLock> {
    requireWritable(repo.storage, mode === 'exclusive' ? 'be maintained' : 'be written to')
    const now = Date.now()
    const info: LockInfo = {mode, ...owner, created: now, expires: now + ttl}
    const id = randomBytes(32).toString('hex')
    await writeLock(repo, id, info)
    const lock = new RepositoryLock(repo, id, info, ttl)
    try {
      for (const other of await listLocks(repo)) {
        if (other.id === id) continue
        const stale = staleness(other.info)
        if (stale) {
          // A killed process's lock: removed by the next writer, and said so.
          await repo.storage.delete('lock', other.id)
          repo.logger.warn(
            `removed a stale ${other.info.mode} lock of pid ${other.info.pid} on ${other.info.host} ` +
              `(taken ${new Date(other.info.created).toISOString()}): ${stale}`,
          )
          continue
        }
        if (mode === 'exclusive' || other.info.mode === 'exclusive') {
          const what = other.info.mode === 'exclusive' ? 'maintenance' : 'a backup or another writer'
          throw new LockedError(
            `the repository is locked by ${what} (pid ${other.info.pid} on ${other.info.host} since ` +
              `${new Date(other.info.created).toISOString()}): try again later`,
          )
        }
      }
    } catch (error) {
      await lock.release()
      throw error
    }
    lock.#timer = setInterval(() => void lock.refresh().catch(() => {}), Math.max(1000, ttl / 3))
    lock.#timer.unref()
    held.add(lock)
    return lock
  }

  get id(): string {
    return this.#id
  }

  /**
   * Throws when the lock may have expired (its refreshes failed for longer than its lifetime):
   * maintenance could then have run, so a writer must not publish what it built meanwhile.
   */
  assertHeld(): void {
    if (Date.now() >= this.#expires) {
      throw new LockedError('the repository lock expired (it could not be refreshed): nothing was committed; run the backup again')
    }
  }

  async refresh(): Promise<void> {
    if (this.#released) return
    const id = randomBytes(32).toString('hex')
    const info = {...this.#info, expires: Date.now() + this.#ttl}
    await writeLock(this.#repo, id, info)
    this.#expires = info.expires
    // Released while the new lock was being written: release() removed the previous one only.
    if (this.#released) {
      await this.#repo.storage.delete('lock', id)
      return
    }
    const old = this.#id
    this.#id = id
    await this.#repo.storage.delete('lock', old)
  }

  async release(): Promise<void> {
    this.#released = true
    held.delete(this)
    if (this.#timer) clearInterval(this.#timer)
    await this.#repo.storage.delete('lock', this.#id)
  }
}

/**
 * Why a lock no longer protects anything, or undefined while it may: it expired (its owner
 * stopped refreshing it), or its owner ran on this host and is no longer running (kill -9, a
 * crash), which needs no waiting for the expiry.
 */
export function staleness(info: LockInfo, now = Date.now()): string | undefined {
  if (info.expires < now) return 'it expired'
  if (info.host === hostname() && !processAlive(info.pid)) return 'its process is gone'
  return undefined
}

function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
  } catch (error) {
    // EPERM: alive, owned by another user.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH'
  }
  return !zombie(pid)
}

/**
 * Whether a process has ended but not been reaped (Linux): signals still reach its pid, but it
 * holds nothing. An agent's task process killed with the agent is one until an init reaps it,
 * and a container's init may never do so.
 */
function zombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // "pid (comm) S …": the state follows the last ")" (comm may hold parentheses).
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z'
  } catch {
    return false
  }
}

/** Locks this process holds: an interrupted command that cannot unwind in time releases them. */
const held = new Set<RepositoryLock>()

/** Releases every lock this process still holds (a forced shutdown after Ctrl-C or SIGTERM). */
export async function releaseHeldLocks(): Promise<void> {
  await Promise.all([...held].map((lock) => lock.release().catch(() => {})))
}

async function writeLock(repo: Repository, id: string, info: LockInfo): Promise<void> {
  const bytes = sealEnvelope(repo.keys.sealer, EnvelopeType.LOCK, LOCK_VERSION, info, Buffer.from(id))
  await repo.storage.put('lock', id, readableFrom([bytes]), bytes.length)
}

/** Every readable lock. Unreadable ones (damaged, half-written by a crash) are skipped. */
export async function listLocks(repo: Repository): Promise<{id: string; info: LockInfo}[]> {
  const out: {id: string; info: LockInfo}[] = []
  for await (const id of repo.storage.list('lock')) {
    try {
      const bytes = await readAll(await repo.storage.get('lock', id))
      const {value} = openEnvelope<LockInfo>(repo.keys.sealer, bytes, EnvelopeType.LOCK, LOCK_VERSION, Buffer.from(id))
      out.push({id, info: value})
    } catch (error) {
      if (!isNotFound(error)) repo.logger.debug(`lock ${id.slice(0, 16)} is unreadable: ${(error as Error).message}`)
    }
  }
  return out
}
