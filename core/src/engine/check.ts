import {BlobType} from '../format/blob-type.js'
import {openBlob} from '../format/blob.js'
import {openState} from '../format/state.js'
import type {Repository} from '../repository/repository.js'
import {mapConcurrent} from '../util/concurrency.js'
import {readAll} from '../util/streams.js'
import {Snapshot} from './snapshot.js'

export interface CheckProblem {
  /** What is damaged: a state, a packfile, a snapshot's tree, or a file of a snapshot. */
  kind: 'state' | 'packfile' | 'snapshot' | 'file'
  message: string
  snapshot?: string
  path?: string
  packfile?: string
  state?: string
}

export interface CheckProgress {
  phase: 'index' | 'data' | 'files'
  /** Files walked (index phase) or packfiles verified (data phase). */
  done: number
  total: number
  /** Data phase: bytes of packfiles read and verified, out of about `totalBytes`. */
  bytes?: number
  totalBytes?: number
}

export interface CheckTarget {
  snapshot: Snapshot
  path: string
}

export interface CheckOptions {
  /** Only check that every blob is indexed and every packfile exists; read no data. */
  fast?: boolean
  concurrency?: number
  onProgress?: (progress: CheckProgress) => void
  onProblem?: (problem: CheckProblem) => void
  /** Problems found before the check started (unreadable snapshot headers). */
  problems?: CheckProblem[]
}

export interface CheckResult {
  problems: CheckProblem[]
  snapshots: number
  files: number
  packfiles: number
  bytes: number
}

const blobKey = (type: number, mac: Uint8Array) => `${type}:${Buffer.from(mac).toString('hex')}`

/**
 * Verifies snapshots. Phase 1 walks every tree (which authenticates every tree node) and checks
 * that each chunk is indexed in a packfile that exists. Phase 2 (full mode) reads every packfile
 * those snapshots use, checks its MAC, and opens, decompresses and re-MACs every blob in it.
 * Phase 3 names each file whose content touches a damaged blob. Memory holds the set of
 * packfiles and the set of damaged blobs, never one entry per file.
 */
export async function check(repo: Repository, targets: CheckTarget[], options: CheckOptions = {}): Promise<CheckResult> {
  const problems: CheckProblem[] = []
  const report = (problem: CheckProblem) => {
    problems.push(problem)
    options.onProblem?.(problem)
  }
  for (const problem of options.problems ?? []) report(problem)
  for (const damaged of repo.damagedStates) {
    report({kind: 'state', state: damaged.id, message: `state ${damaged.id} is damaged: ${damaged.error}`})
  }
  // The local cache trusts the states it merged earlier: read every state again, so that damage
  // done since (a truncated or altered state) is found by a client that has seen it before.
  const alreadyDamaged = new Set(repo.damagedStates.map((d) => d.id))
  const states: string[] = []
  for await (const id of repo.storage.list('state')) if (!alreadyDamaged.has(id)) states.push(id)
  await mapConcurrent(states, Math.max(1, Math.min(options.concurrency ?? 4, 8)), async (id) => {
    try {
      openState(repo.keys, id, await readAll(await repo.storage.get('state', id)))
    } catch (error) {
      if ((error as {fatal?: unknown})?.fatal === true) throw error
      report({kind: 'state', state: id, message: `state ${id} is damaged: ${(error as Error).message}`})
    }
  })

  const present = new Set<string>()
  for await (const id of repo.storage.list('packfile')) present.add(id)

  const referenced = new Set<string>()
  let files = 0
  let done = 0
  const total = targets.reduce((n, t) => n + (t.snapshot.header.summary.files || 0), 0)

  /** Returns why a file's content is unusable, or undefined when it is fine. */
  const contentProblem = async (snapshot: Snapshot, entry: Parameters<Snapshot['chunks']>[0], bad?: Set<string>) => {
    if (entry.object) {
      const loc = repo.cache.locate(BlobType.OBJECT, Buffer.from(entry.object))
      if (!loc) return 'its chunk list is missing from the index'
      if (!present.has(loc.pack)) return `packfile ${loc.pack.slice(0, 16)} holding its chunk list is missing`
      if (bad?.has(blobKey(BlobType.OBJECT, entry.object))) return 'its chunk list is corrupted'
      referenced.add(loc.pack)
    }
    let refs
    try {
      refs = await snapshot.chunks(entry)
    } catch (error) {
      return `its chunk list is unreadable: ${(error as Error).message}`
    }
    for (const [mac] of refs) {
      const loc = repo.cache.locate(BlobType.CHUNK, Buffer.from(mac))
      if (!loc) return `chunk ${Buffer.from(mac).toString('hex').slice(0, 16)} is missing from the index`
      if (!present.has(loc.pack)) return `packfile ${loc.pack.slice(0, 16)} is missing`
      if (bad?.has(blobKey(BlobType.CHUNK, mac))) return `chunk ${Buffer.from(mac).toString('hex').slice(0, 16)} is corrupted`
      referenced.add(loc.pack)
    }
    return undefined
  }

  const walkFiles = async (bad?: Set<string>) => {
    for (const {snapshot, path} of targets) {
      const sid = snapshot.id
      try {
        for await (const [p, entry] of snapshot.walk(path)) {
          if (entry.info.type !== 'file' || entry.error) continue
          if (!bad) {
            files++
            options.onProgress?.({phase: 'index', done: ++done, total})
          }
          const why = await contentProblem(snapshot, entry, bad)
          if (why && (!bad || why.includes('corrupted'))) {
            report({kind: 'file', snapshot: sid, path: p, message: `snapshot ${sid.slice(0, 8)}: ${p}: ${why}`})
          }
        }
      } catch (error) {
        if (!bad) {
          report({kind: 'snapshot', snapshot: sid, message: `snapshot ${sid.slice(0, 8)}: its file tree is damaged: ${(error as Error).message}`})
        }
      }
    }
  }

  await walkFiles()
  let bytes = 0
  if (!options.fast) {
    const bad = new Set<string>()
    const packs = [...referenced]
    let checked = 0
    const sizes = new Map(packs.map((pack) => [pack, repo.cache.blobsOfPack(pack).reduce((n, b) => n + b.length, 0)]))
    const totalBytes = [...sizes.values()].reduce((a, b) => a + b, 0)
    await mapConcurrent(packs, Math.max(1, Math.min(options.concurrency ?? 2, 4)), async (pack) => {
      let data: Buffer
      try {
        data = await readAll(await repo.storage.get('packfile', pack))
      } catch (error) {
        // An unreachable storage is not a damaged repository: stop with that error.
        if ((error as {fatal?: unknown})?.fatal === true) throw error
        report({kind: 'packfile', packfile: pack, message: `packfile ${pack} is unreadable: ${(error as Error).message}`})
        for (const b of repo.cache.blobsOfPack(pack)) bad.add(blobKey(b.type, b.mac))
        return
      }
      bytes += data.length
      if (repo.keys.objectMac.digest(data).toString('hex') !== pack) {
        report({kind: 'packfile', packfile: pack, message: `packfile ${pack} does not match its id: it is corrupted`})
      }
      for (const blob of repo.cache.blobsOfPack(pack)) {
        try {
          if (blob.offset + blob.length > data.length) throw new Error('truncated')
          openBlob(repo.keys, repo.compressor, blob.type, blob.mac, data.subarray(blob.offset, blob.offset + blob.length))
        } catch {
          bad.add(blobKey(blob.type, blob.mac))
        }
      }
      options.onProgress?.({phase: 'data', done: ++checked, total: packs.length, bytes, totalBytes})
    })
    if (bad.size > 0) await walkFiles(bad)
  }
  return {problems, snapshots: targets.length, files, packfiles: referenced.size, bytes}
}

/** Every live snapshot as a check target; snapshots whose header is unreadable are problems. */
export async function allSnapshots(repo: Repository): Promise<{targets: CheckTarget[]; problems: CheckProblem[]}> {
  const targets: CheckTarget[] = []
  const problems: CheckProblem[] = []
  for (const row of repo.cache.snapshots()) {
    const id = row.id.toString('hex')
    try {
      const header = await repo.snapshotHeader(row.id, row.header)
      targets.push({snapshot: new Snapshot(repo, header), path: header.importer.root})
    } catch (error) {
      problems.push({kind: 'snapshot', snapshot: id, message: `snapshot ${id.slice(0, 8)}: its header is unreadable: ${(error as Error).message}`})
    }
  }
  return {targets, problems}
}
