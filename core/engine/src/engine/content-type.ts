/**
 * A file's content type: by its name, and by its first bytes where the name is not enough.
 *
 * The extension table (mime-types) decides for names that say "text" (`.md`, `.json`, `.svg`):
 * cheap, and right. Content decides where the name says nothing (`Makefile`, `notes`, `.py`,
 * which the table does not know) or claims a binary format that the name shares with text
 * (`.ts` is MPEG-TS video in the table and TypeScript in a source tree). Content is read from the
 * first bytes the backup already holds (SNIFF_BYTES), never by an extra read:
 *   1. bytes that decode as UTF-8 without control characters are text;
 *   2. otherwise the magic numbers of `file-type` (a well-kept library that knows ~170 formats
 *      by signature, MPEG-TS included) name the format;
 *   3. failing both, the extension stays the answer.
 * `file-type` is imported on first need only (≈0.3 s): a tree of text and known names never pays it.
 */
import {isUtf8} from 'node:buffer'
import {createRequire} from 'node:module'

/** How many first bytes content detection looks at (file-type's recommended sample size). */
export const SNIFF_BYTES = 4100

/** Names whose extension the table maps to a binary format, when the content is text. */
const TEXT_EXTENSIONS: Record<string, string> = {
  ts: 'text/x-typescript',
  mts: 'text/x-typescript',
  cts: 'text/x-typescript',
  tsx: 'text/x-typescript',
}

/** The type the name gives, if any. */
export function typeFromName(path: string): string | undefined {
  return (mimeTypes ??= createRequire(import.meta.url)('mime-types') as typeof import('mime-types')).lookup(path) || undefined
}

/**
 * mime-types, loaded on the first name looked up: it parses the whole of mime-db (a 200 KB JSON
 * table, 40-70 ms of CPU at a load of 10), which an unchanged re-backup of typed files never needs.
 */
let mimeTypes: typeof import('mime-types') | undefined

/** A type only text formats have: the name is trusted and the content is not looked at. */
function textual(type: string): boolean {
  return /^text\//.test(type) || /[/+](json|xml|yaml|toml)$/.test(type) || /javascript|ecmascript|x-sh$|x-shellscript/.test(type)
}

/** Whether the name leaves the type open: then the first bytes decide (`sniffType`). */
export function needsContent(guess: string | undefined): boolean {
  return guess === undefined || !textual(guess)
}

const extension = (path: string) => {
  const base = path.slice(path.lastIndexOf('/') + 1)
  const dot = base.lastIndexOf('.')
  return dot > 0 ? base.slice(dot + 1).toLowerCase() : ''
}

/**
 * Text: valid UTF-8 (a sequence cut at the end of the sample is allowed) with no control
 * characters other than tab, line feed, form feed, carriage return and escape. Binary formats
 * fail this within their first bytes (NUL bytes, 0xFF markers, invalid sequences).
 */
export function looksLikeText(head: Uint8Array): boolean {
  // Both tests run natively (a regular expression over the bytes read as latin1, and isUtf8):
  // a byte loop in JavaScript cost 21 µs per 4 KiB sample, this about 2 µs.
  if (CONTROL.test(Buffer.from(head.buffer, head.byteOffset, head.byteLength).toString('latin1'))) return false
  return isUtf8(head.subarray(0, head.length - cutSequence(head)))
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]/

/** Bytes at the end of `head` that start a UTF-8 sequence the sample cut short (0 to 3). */
function cutSequence(head: Uint8Array): number {
  for (let back = 1; back <= Math.min(3, head.length); back++) {
    const byte = head[head.length - back]
    if ((byte & 0xc0) === 0x80) continue // a continuation byte: look further back
    const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1
    return length > back ? back : 0
  }
  return 0
}

let fileType: Promise<typeof import('file-type/core')> | undefined

/**
 * Signatures answered here, each with the type `file-type` gives it (a test compares them): gzip,
 * which `file-type` inflates to look for a tar inside (about 1.5 ms per file, half the content
 * typing of a source tree's first backup) only to name it application/gzip either way; ELF
 * (shared libraries, executables, objects), the most common binary of such trees. Both start with
 * a control byte, so they never pass for text. Nothing in `file-type` tests these bytes earlier.
 */
const SIGNATURES: {bytes: number[]; type: string}[] = [
  {bytes: [0x1f, 0x8b, 0x08], type: 'application/gzip'},
  {bytes: [0x7f, 0x45, 0x4c, 0x46], type: 'application/x-elf'},
]

function knownSignature(head: Uint8Array): string | undefined {
  for (const {bytes, type} of SIGNATURES) if (head.length >= bytes.length && bytes.every((b, i) => head[i] === b)) return type
  return undefined
}

/** The format the signature names; a sample the library cannot parse names none (never fails the file). */
async function magic(head: Uint8Array): Promise<string | undefined> {
  try {
    fileType ??= import('file-type/core')
    return (await (await fileType).fileTypeFromBuffer(head))?.mime
  } catch {
    return undefined
  }
}

/**
 * What the first bytes say before `file-type` is asked: the type, or the sample to give it and
 * the type to answer when it names nothing (`otherwise`). The chunking workers stop here and
 * hand the sample to the main thread (signatureType): `file-type`'s detection is one large
 * function that V8 optimizes again for every isolate it runs in and every new kind of file that
 * reaches it (four to six optimizations of half a second each per backup of a source tree, on
 * threads of their own): it runs in one isolate instead of two.
 */
export type Sniffed = {type: string | undefined} | {sample: Uint8Array; otherwise: string | undefined}

/** The first step of sniffType (see Sniffed): everything but the signatures of `file-type`. */
export function sniffWithoutSignatures(path: string, guess: string | undefined, head: Uint8Array): Sniffed {
  const sample = head.length > SNIFF_BYTES ? head.subarray(0, SNIFF_BYTES) : head
  const asText = TEXT_EXTENSIONS[extension(path)]
  if (sample.length === 0) return {type: asText ?? guess}
  if (looksLikeText(sample)) {
    if (guess === undefined || asText) return {type: asText ?? 'text/plain'}
    // A binary name with text content: believe a signature if there is one (an ASCII-only header).
    return {sample, otherwise: 'text/plain'}
  }
  const known = knownSignature(sample)
  return known ? {type: known} : {sample, otherwise: guess}
}

/** The second step: the type of what sniffWithoutSignatures left open, by the signatures of `file-type`. */
export async function signatureType(sniffed: Sniffed): Promise<string | undefined> {
  if ('type' in sniffed) return sniffed.type
  return (await magic(sniffed.sample)) ?? sniffed.otherwise
}

/**
 * The type of a file from its first bytes (`head`, at most SNIFF_BYTES) and the type its name
 * gave (`guess`, for which `needsContent` was true). Undefined when neither says.
 */
export async function sniffType(path: string, guess: string | undefined, head: Uint8Array): Promise<string | undefined> {
  return signatureType(sniffWithoutSignatures(path, guess, head))
}

/** Keeps the first SNIFF_BYTES of a stream, copied (the stream's buffers may be reused). */
export class FirstBytes {
  readonly #head = Buffer.allocUnsafe(SNIFF_BYTES)
  #fill = 0

  add(piece: Uint8Array): void {
    if (this.#fill === SNIFF_BYTES) return
    const n = Math.min(piece.length, SNIFF_BYTES - this.#fill)
    this.#head.set(piece.subarray(0, n), this.#fill)
    this.#fill += n
  }

  bytes(): Buffer {
    return this.#head.subarray(0, this.#fill)
  }
}
