import {createTwoFilesPatch} from 'diff'
import {sameContent, type Entry} from '../tree/entry.js'
import {readAll} from '@plakar/sdk'
import type {Snapshot} from './snapshot.js'

export type Change = 'added' | 'removed' | 'modified' | 'type-changed'

export interface TreeChange {
  change: Change
  /** Path relative to the compared roots, starting with "/". */
  path: string
  before?: Entry
  after?: Entry
}

/** Whether two entries have the same type, content (files), target (symlinks) or mode. */
export function sameEntry(a: Entry, b: Entry): boolean {
  if (a.info.type !== b.info.type) return false
  if (a.info.type === 'file') {
    return a.info.size === b.info.size && sameContent(a, b)
  }
  if (a.info.type === 'symlink') return a.target === b.target
  return a.info.mode === b.info.mode
}

/**
 * Compares two subtrees by merging their sorted walks: memory stays constant whatever their
 * size. Directories count as modified only when their own mode changed.
 */
export async function* diffTrees(a: Snapshot, aPath: string, b: Snapshot, bPath: string): AsyncGenerator<TreeChange> {
  const ia = a.walk(aPath)
  const ib = b.walk(bPath)
  const rel = (base: string, p: string) => (p === base ? '/' : p.slice(base === '/' ? 0 : base.length))
  let na = await ia.next()
  let nb = await ib.next()
  while (!na.done || !nb.done) {
    const ra = na.done ? undefined : rel(aPath, na.value[0])
    const rb = nb.done ? undefined : rel(bPath, nb.value[0])
    const order = ra === undefined ? 1 : rb === undefined ? -1 : compareRel(ra, rb)
    if (order < 0) {
      yield {change: 'removed', path: ra!, before: na.value![1]}
      na = await ia.next()
    } else if (order > 0) {
      yield {change: 'added', path: rb!, after: nb.value![1]}
      nb = await ib.next()
    } else {
      const [ea, eb] = [na.value![1], nb.value![1]]
      if (ea.info.type !== eb.info.type) yield {change: 'type-changed', path: ra!, before: ea, after: eb}
      else if (!sameEntry(ea, eb)) yield {change: 'modified', path: ra!, before: ea, after: eb}
      na = await ia.next()
      nb = await ib.next()
    }
  }
}

/** Component-wise order, the same as tree key order. */
function compareRel(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a.replaceAll('/', '\0')), Buffer.from(b.replaceAll('/', '\0')))
}

const MAX_TEXT_DIFF = 8 * 1024 * 1024

/** A unified diff of two files, or a one-line note when either side is binary or too large. */
export async function diffFiles(a: Snapshot, aPath: string, ea: Entry | undefined, b: Snapshot, bPath: string, eb: Entry | undefined): Promise<string> {
  const load = async (s: Snapshot, e: Entry | undefined) =>
    e && e.info.type === 'file' && e.info.size <= MAX_TEXT_DIFF ? readAll(await s.open(e)) : e ? undefined : Buffer.alloc(0)
  const [ba, bb] = await Promise.all([load(a, ea), load(b, eb)])
  const labelA = `${a.id.slice(0, 8)}:${aPath}`
  const labelB = `${b.id.slice(0, 8)}:${bPath}`
  if (!ba || !bb || isBinary(ba) || isBinary(bb)) return `Binary files ${labelA} and ${labelB} differ\n`
  return createTwoFilesPatch(labelA, labelB, ba.toString('utf8'), bb.toString('utf8'), undefined, undefined, {context: 3})
}

function isBinary(data: Buffer): boolean {
  return data.subarray(0, 8192).includes(0)
}
