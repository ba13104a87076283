import picomatch from 'picomatch'
import type {Snapshot} from './snapshot.js'

/**
 * Finds paths whose file name matches a glob (case-insensitive), through each snapshot's name
 * index: a pattern with a literal prefix ("report*.pdf") scans only that key range.
 */
export async function* locate(snapshot: Snapshot, pattern: string): AsyncGenerator<string> {
  const lowered = pattern.toLowerCase()
  const isMatch = picomatch(lowered, {dot: true, nocase: true})
  const literal = /^[^*?[\]{}!()+@\\]*/.exec(lowered)![0]
  const from = Buffer.from(literal)
  const to = literal ? Buffer.concat([from, Buffer.from([0xff])]) : undefined
  for await (const [key] of snapshot.names.scan(from, to)) {
    const sep = key.indexOf(0)
    const name = key.subarray(0, sep).toString('utf8')
    if (isMatch(name)) yield key.subarray(sep + 1).toString('utf8')
  }
}
