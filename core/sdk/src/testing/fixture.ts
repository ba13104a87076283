import {createWriteStream} from 'node:fs'
import {chmod, lutimes, mkdir, symlink, utimes} from 'node:fs/promises'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {pseudoRandomStream} from './data.js'

/**
 * A data-source fixture: what an importer's `setup` must materialise before making an importer
 * over it. Paths are relative to the source's root, '/'-separated, without a leading '/', and a
 * directory always comes before its children. Every ancestor of an entry is listed as a
 * `directory` entry of its own (sources without real directories, like an S3 bucket, may ignore
 * directory entries: see the importer suite's `directories` capability).
 */
export interface Fixture {
  entries: FixtureEntry[]
}

export type FixtureEntry = FixtureFile | FixtureDirectory | FixtureSymlink

export interface FixtureFile {
  type: 'file'
  path: string
  /** Small content given in full (a string is UTF-8). */
  content?: Uint8Array | string
  /**
   * Large content, given by size and seed: the bytes are {@link pseudoRandomStream}(seed, size).
   * Use {@link fixtureContent} to get a stream of them whichever form the entry has.
   */
  size?: number
  seed?: string
  /** Permission bits, when the source keeps them. */
  mode?: number
  /** Modification time in ms since the epoch (whole seconds), when the source keeps it. */
  mtime?: number
  /** Make this file unreadable (fs: mode 000). Only in fixtures of the `unreadable` test. */
  unreadable?: boolean
}

export interface FixtureDirectory {
  type: 'directory'
  path: string
  mode?: number
  mtime?: number
  /** Make this directory unreadable (fs: mode 000): the importer cannot list it. */
  unreadable?: boolean
}

export interface FixtureSymlink {
  type: 'symlink'
  path: string
  /** The link text, verbatim (may dangle). */
  target: string
  mtime?: number
}

/** Size in bytes of a fixture file's content. */
export function fixtureSize(entry: FixtureFile): number {
  if (entry.content !== undefined) return typeof entry.content === 'string' ? Buffer.byteLength(entry.content) : entry.content.length
  return entry.size ?? 0
}

/** The content of a fixture file as a stream (generated chunk by chunk for size+seed entries). */
export function fixtureContent(entry: FixtureFile): Readable {
  if (entry.content !== undefined) {
    const bytes = typeof entry.content === 'string' ? Buffer.from(entry.content) : Buffer.from(entry.content)
    return Readable.from(bytes.length > 0 ? [bytes] : [], {objectMode: false})
  }
  return pseudoRandomStream(entry.seed ?? entry.path, entry.size ?? 0)
}

/**
 * Writes a fixture into a local directory (which must exist): directories, files (streamed),
 * symlinks, then modes and mtimes deepest first so that writing children does not undo a
 * directory's mtime, and last the `unreadable` entries get mode 000. For filesystem-like
 * importers (fs, and SFTP servers on this host).
 */
export async function materializeFixture(fixture: Fixture, root: string): Promise<void> {
  const local = (path: string) => join(root, ...path.split('/'))
  for (const entry of fixture.entries) {
    const full = local(entry.path)
    if (entry.type === 'directory') await mkdir(full, {recursive: true})
    else if (entry.type === 'file') await pipeline(fixtureContent(entry), createWriteStream(full))
    else await symlink(entry.target, full)
  }
  for (const entry of [...fixture.entries].reverse()) {
    const full = local(entry.path)
    if (entry.type !== 'symlink' && entry.mode !== undefined) await chmod(full, entry.mode)
    if (entry.mtime !== undefined) {
      const time = new Date(entry.mtime)
      if (entry.type === 'symlink') await lutimes(full, time, time)
      else await utimes(full, time, time)
    }
  }
  for (const entry of fixture.entries) {
    if (entry.type !== 'symlink' && entry.unreadable) await chmod(local(entry.path), 0)
  }
}

/**
 * File names that break naive code: spaces, unicode in NFC and in NFD, URL and shell
 * metacharacters, quotes, a tab, leading dashes and dots, a 200-byte name, and with
 * `newline: true` a newline and a carriage return. Each is a valid single path component.
 */
export function oddFileNames(options: {newline?: boolean} = {}): string[] {
  return [
    'with space.txt',
    '  leading and trailing spaces  ',
    'unicodé-ünïcödé-日本語-🎉.txt',
    'café-nfc'.normalize('NFC'),
    'naïve-nfd'.normalize('NFD'),
    'hash#tag.txt',
    'percent%20and%.txt',
    'question?mark',
    'star*glob[1]{2}(3)',
    'back\\slash',
    `quotes'and"double`,
    'colon:semi;comma,',
    'plus+amp&eq=at@tilde~dollar$bang!',
    '`backtick`',
    'tab\there',
    '-leading-dash',
    '.hidden',
    '..two-dots-prefix',
    '...',
    'trailing.dot.',
    'x'.repeat(200),
    ...(options.newline ? ['new\nline', 'carriage\rreturn'] : []),
  ]
}
