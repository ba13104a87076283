/**
 * Tree keys. A path's key is its components joined by NUL ("/a/b" → "\0a\0b", "/" → ""), so
 * byte order on keys is component-wise path order: a directory sorts right before its
 * descendants, every subtree is one contiguous key range, and a pre-order walk is a plain scan.
 */
const NUL = 0
const SLASH = 0x2f

export function pathToKey(path: string): Buffer {
  if (path === '/' || path === '') return Buffer.alloc(0)
  // '/' is one byte in UTF-8 and no byte of a multi-byte character: replaced in place.
  const key = Buffer.from(path, 'utf8')
  for (let i = 0; i < key.length; i++) if (key[i] === SLASH) key[i] = NUL
  return key
}

export function keyToPath(key: Uint8Array): string {
  if (key.length === 0) return '/'
  return Buffer.from(key).toString('utf8').replaceAll('\0', '/')
}

/** First key after every descendant of `key`: the end of its subtree's range. */
export function subtreeEnd(key: Buffer): Buffer {
  return Buffer.concat([key, Buffer.from([NUL + 1])])
}

/** First possible key of a descendant of `key`. */
export function descendantsStart(key: Buffer): Buffer {
  return Buffer.concat([key, Buffer.from([NUL])])
}

/** Depth of a key: the number of path components. */
export function keyDepth(key: Uint8Array): number {
  let depth = 0
  for (let i = 0; i < key.length; i++) if (key[i] === NUL) depth++
  return depth
}

export function parentKey(key: Buffer): Buffer | undefined {
  if (key.length === 0) return undefined
  return key.subarray(0, key.lastIndexOf(NUL))
}

/** True when `key` is `ancestor` or lies under it. */
export function isWithin(key: Uint8Array, ancestor: Uint8Array): boolean {
  if (ancestor.length === 0) return true
  if (key.length < ancestor.length) return false
  if (Buffer.compare(key.subarray(0, ancestor.length), ancestor) !== 0) return false
  return key.length === ancestor.length || key[ancestor.length] === NUL
}

/**
 * Canonical form of a snapshot path: absolute, '/'-separated, no empty, "." or ".." components,
 * no NUL. Returns undefined for anything else; restore refuses such entries.
 */
export function normalizeStoredPath(path: string): string | undefined {
  if (!path.startsWith('/') || path.includes('\0')) return undefined
  if (path === '/') return '/'
  const parts = path.slice(1).split('/')
  for (const part of parts) if (part === '' || part === '.' || part === '..') return undefined
  return path
}

/** Resolves a user-supplied path against the snapshot root, collapsing "." and "..". */
export function resolveUserPath(path: string, root: string): string {
  const absolute = path.startsWith('/') ? path : `${root.replace(/\/$/, '')}/${path}`
  const out: string[] = []
  for (const part of absolute.split('/')) {
    if (part === '' || part === '.') continue
    if (part === '..') out.pop()
    else out.push(part)
  }
  return `/${out.join('/')}`
}
