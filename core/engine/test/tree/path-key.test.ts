import {describe, expect, it} from 'vitest'
import {
  descendantsStart,
  isWithin,
  keyDepth,
  keyToPath,
  normalizeStoredPath,
  parentKey,
  pathToKey,
  resolveUserPath,
  subtreeEnd,
} from '../../src/tree/path-key.js'

/** Component-wise path order: compare component lists, each by UTF-8 bytes. */
function componentOrder(a: string, b: string): number {
  const pa = a === '/' ? [] : a.slice(1).split('/')
  const pb = b === '/' ? [] : b.slice(1).split('/')
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const c = Buffer.compare(Buffer.from(pa[i]), Buffer.from(pb[i]))
    if (c !== 0) return c
  }
  return pa.length - pb.length
}

const PATHS = ['/', '/a', '/a/b', '/a/b/c', '/a/c', '/a b', '/a-b', '/a.b', '/a!', '/ab', '/a\u0001x', '/b', '/é', '/z/…', '/a/b c', '/A']

describe('path keys', () => {
  it('round trip', () => {
    for (const path of PATHS) expect(keyToPath(pathToKey(path))).toBe(path)
    expect(pathToKey('/').length).toBe(0)
  })

  it('key order is component-wise path order: a directory sorts right before its descendants', () => {
    const byKey = [...PATHS].sort((a, b) => Buffer.compare(pathToKey(a), pathToKey(b)))
    expect(byKey).toEqual([...PATHS].sort(componentOrder))
    // Plain string order would put "/a b" between "/a" and "/a/b".
    expect(byKey.indexOf('/a/b/c')).toBeLessThan(byKey.indexOf('/a b'))
  })

  it('the same holds for many random paths', () => {
    const alphabet = ['a', 'b', ' ', '-', '.', '\u0001', 'é', 'Z', '0']
    let state = 12345
    const rand = (n: number) => ((state = (state * 1103515245 + 12345) >>> 0) % n)
    const paths = Array.from({length: 2000}, () => {
      const depth = 1 + rand(4)
      return '/' + Array.from({length: depth}, () => Array.from({length: 1 + rand(3)}, () => alphabet[rand(alphabet.length)]).join('')).join('/')
    })
    const byKey = [...new Set(paths)].sort((a, b) => Buffer.compare(pathToKey(a), pathToKey(b)))
    expect(byKey).toEqual([...new Set(paths)].sort(componentOrder))
  })

  it('subtreeEnd bounds exactly the subtree: [key, subtreeEnd(key)) holds the path and its descendants', () => {
    for (const top of ['/a', '/a/b', '/']) {
      const start = pathToKey(top)
      const end = subtreeEnd(start)
      for (const path of PATHS) {
        const key = pathToKey(path)
        const inside = Buffer.compare(key, start) >= 0 && Buffer.compare(key, end) < 0
        const descendant = top === '/' || path === top || path.startsWith(`${top}/`)
        if (top !== '/') expect(inside, `${path} within ${top}`).toBe(descendant)
        expect(isWithin(key, start), `isWithin(${path}, ${top})`).toBe(descendant)
      }
    }
    // The first possible descendant sorts after the directory and inside its range.
    const a = pathToKey('/a')
    expect(Buffer.compare(descendantsStart(a), a)).toBeGreaterThan(0)
    expect(Buffer.compare(descendantsStart(a), subtreeEnd(a))).toBeLessThan(0)
  })

  it('parent and depth', () => {
    expect(keyToPath(parentKey(pathToKey('/a/b/c'))!)).toBe('/a/b')
    expect(keyToPath(parentKey(pathToKey('/a'))!)).toBe('/')
    expect(parentKey(pathToKey('/'))).toBeUndefined()
    expect(keyDepth(pathToKey('/'))).toBe(0)
    expect(keyDepth(pathToKey('/a/b/c'))).toBe(3)
  })

  it('normalizeStoredPath accepts canonical paths and rejects "..", ".", empty components, NUL and relative paths', () => {
    for (const good of ['/', '/a', '/a/b', '/a/..b', '/...', '/a/.hidden']) expect(normalizeStoredPath(good)).toBe(good)
    for (const bad of ['/..', '/a/..', '/a/../b', '/../etc/passwd', '/.', '/a/./b', '//a', '/a//b', '/a/', 'a/b', '', '..', '/a\0b']) {
      expect(normalizeStoredPath(bad), JSON.stringify(bad)).toBeUndefined()
    }
  })

  it('resolveUserPath collapses "." and ".." against the snapshot root', () => {
    expect(resolveUserPath('docs/a.txt', '/home/me')).toBe('/home/me/docs/a.txt')
    expect(resolveUserPath('/etc/hosts', '/home/me')).toBe('/etc/hosts')
    expect(resolveUserPath('../x/./y', '/home/me/')).toBe('/home/x/y')
    expect(resolveUserPath('../../../..', '/home')).toBe('/')
    expect(resolveUserPath('.', '/')).toBe('/')
  })
})
