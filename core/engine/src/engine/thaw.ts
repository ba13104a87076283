import {setTimeout as sleep} from 'node:timers/promises'
import {isColdStorage, mapConcurrent, markFatal, type ColdStorage, type ThawState, type ThawTier} from '@plakar/sdk'
import {BlobType} from '../format/blob-type.js'
import type {Repository} from '../repository/repository.js'
import type {Snapshot} from './snapshot.js'

/**
 * Reading cold data (docs/format.md §2.2). A command that reads file content from a cold
 * storage first works out which data packfiles it needs — from metadata only, which is hot —
 * asks the storage where each stands, prices what must be thawed, and (once confirmed) asks for
 * restores in batches, then polls with exponential backoff until every packfile is readable.
 * The storage is the record of what was asked: a second run finds restores under way or done
 * and asks nothing again, so an interrupted thaw resumes where it was.
 */

/** MACs looked up in the local index at once. */
const LOOKUP_BATCH = 500
/** Packfiles per restore request round. */
export const REQUEST_BATCH = 100

export interface ThawPlan {
  /** Data packfiles the command reads, with their sizes. */
  packfiles: Map<string, number>
  /** Where each stands now. */
  states: Map<string, ThawState>
  /** Classes of the packfiles to thaw (prices depend on them). */
  storageClasses: Map<string, string | undefined>
  /** Packfiles that must be asked for (archived) and their bytes. */
  toRequest: string[]
  toRequestBytes: number
  /** Packfiles being thawed already (asked by an earlier run). */
  inProgress: string[]
  /** Readable now (never archived, or thawed). */
  readable: number
  estimates: ThawEstimate[]
  currency: string
  priceSource: string
  tier: string
  days: number
}

export interface ThawEstimate {
  tier: string
  cost: number
  typicalWait: string
}

export interface ThawProgress {
  readable: number
  total: number
  requested: number
  waitingMs?: number
}

/** The storage when it is cold, else undefined: commands skip thawing on other storages. */
export function coldStorageOf(repo: Repository): ColdStorage | undefined {
  const storage = repo.storage
  return isColdStorage(storage) && storage.capabilities().cold === true ? storage : undefined
}

/** Collects the data packfiles holding `macs` (chunks) into `into`, in batches. */
export class PackfileCollector {
  readonly packfiles = new Map<string, number>()
  readonly #repo: Repository
  #pending: Buffer[] = []
  readonly #seen = new Set<string>()

  constructor(repo: Repository) {
    this.#repo = repo
  }

  add(mac: Uint8Array): void {
    this.#pending.push(Buffer.from(mac))
    if (this.#pending.length >= LOOKUP_BATCH) this.flush()
  }

  /** Every data packfile of the repository (a whole-repository check reads them all). */
  addAllData(): void {
    for (const {id, kind} of this.#repo.cache.packfiles()) if (kind === 'data') this.#addPack(id)
  }

  #addPack(pack: string): void {
    if (this.#seen.has(pack)) return
    this.#seen.add(pack)
    this.packfiles.set(pack, this.#repo.cache.blobBytesOfPack(pack))
  }

  flush(): void {
    if (this.#pending.length === 0) return
    const found = this.#repo.cache.packsOf(BlobType.CHUNK, this.#pending)
    this.#pending = []
    for (const pack of found.values()) this.#addPack(pack)
  }
}

/** Adds the packfiles of every file at or below `path` of a snapshot. */
export async function collectSnapshotPackfiles(snapshot: Snapshot, path: string, collector: PackfileCollector): Promise<void> {
  for await (const [, entry] of snapshot.walk(path)) {
    if (entry.info.type !== 'file') continue
    for (const [mac] of await snapshot.chunks(entry)) collector.add(mac)
  }
  collector.flush()
}

const GiB = 1024 ** 3

/** Prices thawing `count` objects of `bytes` with every tier the storage offers. */
export function estimate(tiers: ThawTier[], count: number, bytes: number): ThawEstimate[] {
  return tiers.map((t) => ({tier: t.name, cost: (bytes / GiB) * t.perGiB + (count / 1000) * t.perThousandRequests, typicalWait: t.typicalWait}))
}

/** Asks the storage where each packfile stands (HEAD requests: never a GET of cold data). */
export async function planThaw(
  repo: Repository,
  storage: ColdStorage,
  packfiles: Map<string, number>,
  options: {tier?: string; days?: number; concurrency?: number} = {},
): Promise<ThawPlan> {
  const settings = storage.thawSettings()
  const states = new Map<string, ThawState>()
  const storageClasses = new Map<string, string | undefined>()
  await mapConcurrent([...packfiles.keys()], options.concurrency ?? 16, async (id) => {
    const status = await storage.restoreStatus('packfile', id)
    states.set(id, status.state)
    storageClasses.set(id, status.storageClass)
  })
  const toRequest = [...packfiles.keys()].filter((id) => states.get(id) === 'archived')
  const toRequestBytes = toRequest.reduce((n, id) => n + (packfiles.get(id) ?? 0), 0)
  const inProgress = [...packfiles.keys()].filter((id) => states.get(id) === 'in-progress')
  const readable = packfiles.size - toRequest.length - inProgress.length
  // Prices follow the class of the objects to thaw; the most expensive class present decides.
  const classes = new Set(toRequest.map((id) => storageClasses.get(id)))
  const cls = classes.has('DEEP_ARCHIVE') ? 'DEEP_ARCHIVE' : [...classes][0]
  const tiers = storage.thawTiers(cls)
  const tier = options.tier ?? settings.tier
  return {
    packfiles,
    states,
    storageClasses,
    toRequest,
    toRequestBytes,
    inProgress,
    readable,
    estimates: estimate(tiers, toRequest.length, toRequestBytes),
    currency: settings.currency,
    priceSource: settings.priceSource,
    tier,
    days: options.days ?? settings.days,
  }
}

/**
 * The packfiles of a thaw that are not readable yet. The repository's blob reader asks it
 * before each read (`repo.reader.waitFor`): a read of a held packfile waits until the thaw
 * releases it, or fails with the thaw's error (fatal: the command stops with that one error).
 */
export class ThawGate {
  readonly #held = new Map<string, {promise: Promise<void>; release: () => void; fail: (error: unknown) => void}>()

  hold(id: string): void {
    if (this.#held.has(id)) return
    let release!: () => void
    let fail!: (error: unknown) => void
    const promise = new Promise<void>((resolve, reject) => {
      release = resolve
      fail = reject
    })
    // Nobody may be waiting for this packfile when the thaw fails.
    promise.catch(() => {})
    this.#held.set(id, {promise, release, fail})
  }

  release(id: string): void {
    const held = this.#held.get(id)
    if (!held) return
    this.#held.delete(id)
    held.release()
  }

  fail(error: unknown): void {
    const fatal = typeof error === 'object' && error !== null ? markFatal(error) : error
    for (const held of this.#held.values()) held.fail(fatal)
    this.#held.clear()
  }

  /** The wait before reading `id`; undefined when it is readable (or not part of the thaw). */
  wait(id: string): Promise<void> | undefined {
    return this.#held.get(id)?.promise
  }

  get size(): number {
    return this.#held.size
  }
}

export interface ThawOptions {
  signal?: AbortSignal
  onProgress?: (progress: ThawProgress) => void
  /** Polling of thaws in progress (defaults: the storage's thaw settings). */
  pollInitialMs?: number
  pollMaxMs?: number
  /** Released packfile by packfile as they become readable (readers wait on it meanwhile). */
  gate?: ThawGate
}

/**
 * Asks for the plan's archived packfiles in batches, then polls every packfile not yet
 * readable with backoff until all are, releasing each from `options.gate` as soon as it is
 * readable. Returns how many restore requests were made. On failure (or abort) the gate fails
 * every read still waiting.
 */
export async function executeThaw(storage: ColdStorage, plan: ThawPlan, options: ThawOptions = {}): Promise<{requested: number}> {
  const gate = options.gate
  for (const id of [...plan.toRequest, ...plan.inProgress]) gate?.hold(id)
  try {
    return await thaw(storage, plan, options)
  } catch (error) {
    gate?.fail(error)
    throw error
  }
}

async function thaw(storage: ColdStorage, plan: ThawPlan, options: ThawOptions): Promise<{requested: number}> {
  const settings = storage.thawSettings()
  const total = plan.packfiles.size
  const waiting = new Set<string>([...plan.inProgress])
  let requested = 0
  let readable = plan.readable
  const report = (waitingMs?: number) => options.onProgress?.({readable, total, requested, waitingMs})
  const readableNow = (id: string) => {
    waiting.delete(id)
    readable++
    options.gate?.release(id)
  }
  for (let i = 0; i < plan.toRequest.length; i += REQUEST_BATCH) {
    options.signal?.throwIfAborted()
    const batch = plan.toRequest.slice(i, i + REQUEST_BATCH)
    const outcomes = await storage.requestRestore('packfile', batch, {days: plan.days, tier: plan.tier})
    for (const o of outcomes) {
      if (o.outcome === 'requested') requested++
      if (o.outcome === 'requested' || o.outcome === 'in-progress' || o.outcome === 'archived') waiting.add(o.id)
      else readableNow(o.id)
    }
    report()
  }
  let interval = options.pollInitialMs ?? settings.pollInitialMs
  const max = Math.max(interval, options.pollMaxMs ?? settings.pollMaxMs)
  while (waiting.size > 0) {
    report(interval)
    await sleep(interval, undefined, {signal: options.signal})
    interval = Math.min(max, interval * 2)
    await mapConcurrent([...waiting], 16, async (id) => {
      const status = await storage.restoreStatus('packfile', id)
      if (status.state === 'available' || status.state === 'hot') readableNow(id)
    })
  }
  report()
  return {requested}
}
