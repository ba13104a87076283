/**
 * How S3 keys map to plakar paths, and back.
 *
 * A key becomes the path `/<bucket>/<key>`: snapshots show where the data came from, `ls` and
 * `locate` read like the bucket, and two buckets of one endpoint never look like the same
 * source. The importer's root is `/<bucket>[/<prefix>]`, and a restore writes the root's
 * content, so keys come back relative to it: `backup s3://h/b1/photos` then
 * `restore --to s3://h/b2/copy` turns `photos/2024/a.jpg` into `copy/2024/a.jpg`, and
 * `restore --to /tmp/x` gives `/tmp/x/2024/a.jpg`.
 *
 * Keys that are not paths (an empty, "." or ".." component, a NUL) cannot be stored in a file
 * tree: the importer reports them as scan errors instead of guessing.
 */
export function keyProblem(key: string): string | undefined {
  if (key.includes('\0')) return 'the key contains a NUL character'
  const body = key.endsWith('/') ? key.slice(0, -1) : key
  if (body === '') return 'the key is empty'
  for (const part of body.split('/')) {
    if (part === '') return 'the key has an empty path component ("//" or a leading "/")'
    if (part === '.' || part === '..') return `the key has a "${part}" path component`
  }
  return undefined
}

/**
 * A path for a key that cannot be one, to name it in a scan error: its odd components
 * percent-encoded ("." → "%2E", ".." → "%2E%2E", an empty one → "%2F", NUL → "%00").
 */
export function errorPathOfKey(bucket: string, key: string): string {
  const parts = key.split('/')
  if (parts.length > 1 && parts.at(-1) === '') parts.pop()
  const safe = parts.map((p) => (p === '' ? '%2F' : p === '.' ? '%2E' : p === '..' ? '%2E%2E' : p.replaceAll('\0', '%00')))
  return `/${bucket}/${safe.join('/')}`
}

/** Byte order of UTF-8 strings: the order S3 lists keys in. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

/**
 * Finds keys that sit below another key, like `a` and `a/b`: a path cannot be a file and a
 * directory at once. Fed keys in listing order; remembers only the file keys whose "directory
 * range" (`key/…`) is still ahead, which a sorted listing lets it forget as soon as it is passed.
 */
export class FileDirectoryConflicts {
  readonly #open: string[] = []

  /** The file key `key` lies under, if any. */
  parentFile(key: string): string | undefined {
    while (this.#open.length > 0) {
      const top = this.#open.at(-1)!
      if (key.startsWith(`${top}/`)) return top
      if (compareKeys(key, `${top}/`) > 0) this.#open.pop()
      else return undefined
    }
    return undefined
  }

  addFile(key: string): void {
    this.#open.push(key)
  }
}
