import {describe, expect, it} from 'vitest'
import {decodeMetadataValue} from '../src/metadata.js'
import {FileDirectoryConflicts, keyProblem} from '../src/paths.js'

describe('keys and paths', () => {
  it('finds keys that cannot be paths', () => {
    expect(keyProblem('a/b c/#%+ü')).toBeUndefined()
    expect(keyProblem('dir/')).toBeUndefined()
    expect(keyProblem('a//b')).toMatch(/empty/)
    expect(keyProblem('/a')).toMatch(/empty/)
    expect(keyProblem('a/../b')).toMatch(/\.\./)
    expect(keyProblem('./a')).toMatch(/"\."/)
    expect(keyProblem('a\0b')).toMatch(/NUL/)
  })

  it('finds a file key standing where a directory is needed, in listing order', () => {
    const c = new FileDirectoryConflicts()
    const found: string[] = []
    for (const key of ['a', 'a!x', 'a.txt', 'a/b', 'a/c/d', 'b', 'b0', 'c/d']) {
      const parent = c.parentFile(key)
      if (parent !== undefined) found.push(`${key} under ${parent}`)
      else c.addFile(key)
    }
    expect(found).toEqual(['a/b under a', 'a/c/d under a'])
  })

  it('decodes metadata', () => {
    expect(decodeMetadataValue('Ã©t\u00e9')).toBe('Ã©t\u00e9') // not UTF-8 bytes: kept
    expect(decodeMetadataValue(Buffer.from('été ✓', 'utf8').toString('latin1'))).toBe('été ✓')
    expect(decodeMetadataValue('=?UTF-8?B?w6l0w6k=?=')).toBe('été')
    expect(decodeMetadataValue('plain')).toBe('plain')
  })
})
