import {crc32} from 'node:zlib'
import {IntegrityError} from '@plakar/sdk'

/**
 * Error-correcting parity of a metadata packfile's blobs (docs/format.md §7.1): one flipped
 * byte in a tree node must not lose a snapshot. The blob region is cut into shards of 4 KiB,
 * and each group of 16 shards gets one XOR parity shard; a CRC-32 per shard (data and parity)
 * says which shard is damaged, and a group with one damaged shard is rebuilt from the others.
 * So any damage confined to one shard per group of 64 KiB (a flipped byte, a bad sector, a
 * torn 4 KiB write) is repaired, at a cost of 1/16 of the metadata plus 4 bytes per 4 KiB
 * shard (6.35 %), and nothing for file content. XOR parity is a few lines and corrects what
 * happens to single objects at rest; Reed-Solomon (kopia's choice) would also survive several
 * damaged shards per group, at the price of a dependency (the npm packages are native addons
 * or little used): a later version may add it under a new parity version.
 *
 * Layout, after the last blob and before the index:
 *
 *   version (u8, 1) ‖ shardSize (u32) ‖ groupSize (u32) ‖ dataLength (u32)
 *   ‖ crc32 of each data shard ‖ crc32 of each parity shard (u32 each)
 *   ‖ crc32 of everything before (u32) ‖ parity shards (shardSize each)
 *
 * The last data shard is zero-padded for the parity and its CRC. Every field describes
 * ciphertext: parity reveals nothing the blobs do not.
 */
export const PARITY_VERSION = 1
export const PARITY_SHARD = 4096
export const PARITY_GROUP = 16

const FIXED = 1 + 4 + 4 + 4

interface Geometry {
  shardSize: number
  groupSize: number
  dataLength: number
  dataShards: number
  groups: number
}

function geometry(shardSize: number, groupSize: number, dataLength: number): Geometry {
  const dataShards = Math.ceil(dataLength / shardSize)
  return {shardSize, groupSize, dataLength, dataShards, groups: Math.ceil(dataShards / groupSize)}
}

/** A zero-padded shard of `data`. */
function shard(data: Buffer, g: Geometry, i: number): Buffer {
  const start = i * g.shardSize
  const piece = data.subarray(start, Math.min(start + g.shardSize, g.dataLength))
  if (piece.length === g.shardSize) return piece
  const padded = Buffer.alloc(g.shardSize)
  piece.copy(padded)
  return padded
}

function xorInto(target: Buffer, source: Buffer): void {
  for (let i = 0; i < target.length; i++) target[i] ^= source[i]
}

/** The parity section of a blob region. */
export function buildParity(data: Buffer, shardSize = PARITY_SHARD, groupSize = PARITY_GROUP): Buffer {
  const g = geometry(shardSize, groupSize, data.length)
  const parity: Buffer[] = []
  const crcs = Buffer.alloc(4 * (g.dataShards + g.groups))
  for (let i = 0; i < g.dataShards; i++) crcs.writeUInt32BE(crc32(shard(data, g, i)), 4 * i)
  for (let group = 0; group < g.groups; group++) {
    const p = Buffer.alloc(shardSize)
    for (let i = group * groupSize; i < Math.min((group + 1) * groupSize, g.dataShards); i++) xorInto(p, shard(data, g, i))
    crcs.writeUInt32BE(crc32(p), 4 * (g.dataShards + group))
    parity.push(p)
  }
  const head = Buffer.alloc(FIXED)
  head[0] = PARITY_VERSION
  head.writeUInt32BE(shardSize, 1)
  head.writeUInt32BE(groupSize, 5)
  head.writeUInt32BE(data.length, 9)
  const table = Buffer.concat([head, crcs])
  const check = Buffer.alloc(4)
  check.writeUInt32BE(crc32(table))
  return Buffer.concat([table, check, ...parity])
}

export interface Repaired {
  /** The blob region with every repairable shard rebuilt. */
  data: Buffer
  /** Damaged data shards rebuilt from parity. */
  repaired: number
  /** Damaged data shards that could not be (another damaged shard in their group). */
  unrepairable: number
}

/**
 * Checks the blob region against its parity section and rebuilds each damaged shard whose
 * group has no other damaged shard. Throws an IntegrityError when the parity section itself
 * cannot be trusted (its table fails its CRC) or was written by a newer version.
 */
export function repairWithParity(data: Buffer, section: Buffer): Repaired {
  if (section.length < FIXED + 4) throw new IntegrityError('the parity section is truncated')
  if (section[0] !== PARITY_VERSION) throw new IntegrityError(`the parity section has version ${section[0]}, this plakar reads ${PARITY_VERSION}`)
  const shardSize = section.readUInt32BE(1)
  const groupSize = section.readUInt32BE(5)
  const dataLength = section.readUInt32BE(9)
  if (shardSize === 0 || groupSize === 0 || dataLength !== data.length) throw new IntegrityError('the parity section does not describe these blobs')
  const g = geometry(shardSize, groupSize, dataLength)
  const tableLength = FIXED + 4 * (g.dataShards + g.groups)
  if (section.length !== tableLength + 4 + g.groups * shardSize) throw new IntegrityError('the parity section has the wrong size')
  if (crc32(section.subarray(0, tableLength)) !== section.readUInt32BE(tableLength)) throw new IntegrityError('the parity table is damaged')
  const crcOf = (i: number) => section.readUInt32BE(FIXED + 4 * i)
  const out = Buffer.from(data)
  let repaired = 0
  let unrepairable = 0
  for (let group = 0; group < g.groups; group++) {
    const first = group * groupSize
    const last = Math.min(first + groupSize, g.dataShards)
    const parity = section.subarray(tableLength + 4 + group * shardSize, tableLength + 4 + (group + 1) * shardSize)
    const bad: number[] = []
    for (let i = first; i < last; i++) if (crc32(shard(out, g, i)) !== crcOf(i)) bad.push(i)
    if (bad.length === 0) continue
    const parityGood = crc32(parity) === crcOf(g.dataShards + group)
    if (bad.length > 1 || !parityGood) {
      unrepairable += bad.length
      continue
    }
    const rebuilt = Buffer.from(parity)
    for (let i = first; i < last; i++) if (i !== bad[0]) xorInto(rebuilt, shard(out, g, i))
    if (crc32(rebuilt) !== crcOf(bad[0])) {
      unrepairable++
      continue
    }
    const start = bad[0] * shardSize
    rebuilt.copy(out, start, 0, Math.min(shardSize, dataLength - start))
    repaired++
  }
  return {data: out, repaired, unrepairable}
}
