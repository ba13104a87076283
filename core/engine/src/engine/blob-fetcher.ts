import {BlobType} from '../format/blob-type.js'
import type {Repository} from '../repository/repository.js'
import {mapConcurrent} from '@plakar/sdk'
import {decoderFor} from './decode-pool.js'

/**
 * Reads many chunks with few requests: chunks are located in the cache, grouped by packfile,
 * sorted by offset, and neighbours (gaps up to MAX_GAP) are fetched as one range of at most
 * MAX_RANGE bytes. On a remote storage this is the difference between one request per chunk
 * and one per few megabytes (restic's restore is fast for the same reason).
 */
export const MAX_GAP = 256 * 1024
export const MAX_RANGE = 8 * 1024 * 1024

interface Located {
  key: string
  mac: Buffer
  pack: string
  offset: number
  length: number
}

export interface PlannedRange {
  pack: string
  offset: number
  length: number
  blobs: Located[]
}

/** Groups located blobs into ranges; each blob appears once. */
export function planRanges(blobs: Located[], maxGap = MAX_GAP, maxRange = MAX_RANGE): PlannedRange[] {
  const byPack = new Map<string, Located[]>()
  for (const b of blobs) {
    const list = byPack.get(b.pack)
    if (list) list.push(b)
    else byPack.set(b.pack, [b])
  }
  const ranges: PlannedRange[] = []
  for (const [pack, list] of byPack) {
    list.sort((a, b) => a.offset - b.offset)
    let current: PlannedRange | undefined
    for (const b of list) {
      const end = b.offset + b.length
      if (current && b.offset - (current.offset + current.length) <= maxGap && end - current.offset <= maxRange) {
        current.length = Math.max(current.length, end - current.offset)
        current.blobs.push(b)
      } else {
        current = {pack, offset: b.offset, length: b.length, blobs: [b]}
        ranges.push(current)
      }
    }
  }
  return ranges
}

export function chunkKey(mac: Uint8Array): string {
  return Buffer.from(mac).toString('hex')
}

/**
 * Fetches chunks (deduplicated by MAC) and returns their plaintexts by hex MAC. Ranges are
 * opened on the decoding workers, so decryption and decompression use every core. A chunk that
 * cannot be read or authenticated is absent from the result and listed in `failed`, so one bad
 * chunk costs only the files that use it.
 */
export async function fetchChunks(
  repo: Repository,
  macs: Uint8Array[],
  concurrency = 8,
): Promise<{chunks: Map<string, Buffer>; failed: Map<string, string>}> {
  const chunks = new Map<string, Buffer>()
  const failed = new Map<string, string>()
  const wanted = new Map<string, Located>()
  for (const raw of macs) {
    const key = chunkKey(raw)
    if (wanted.has(key) || failed.has(key)) continue
    const mac = Buffer.from(raw)
    const loc = repo.cache.locate(BlobType.CHUNK, mac)
    if (!loc) failed.set(key, repo.missingBlob(BlobType.CHUNK, mac, 'chunk'))
    else wanted.set(key, {key, mac, pack: loc.pack, offset: loc.offset, length: loc.length})
  }
  await mapConcurrent(planRanges([...wanted.values()]), concurrency, async (range) => {
    let data: Buffer
    try {
      data = await repo.readPackRange(range.pack, range.offset, range.length)
    } catch (error) {
      if ((error as {fatal?: unknown})?.fatal === true) throw error
      for (const b of range.blobs) failed.set(b.key, (error as Error).message)
      return
    }
    const blobs = range.blobs.map((b) => ({type: BlobType.CHUNK, mac: b.mac, offset: b.offset - range.offset, length: b.length}))
    const {plaintexts, errors} = await decoderFor(repo).decode(data, blobs)
    range.blobs.forEach((b, i) => {
      const plain = plaintexts[i]
      if (plain) chunks.set(b.key, plain)
      else failed.set(b.key, errors.get(i) ?? 'unreadable')
    })
  })
  return {chunks, failed}
}
