import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {excluder, ignorePatterns} from '../../src/engine/exclude.js'
import {ExitCode, UsageError} from '@plakar/sdk'

describe('gitignore-style exclusion', () => {
  const skip = excluder('/home/me', ['*.log', '!keep.log', 'node_modules/', '/build', 'docs/**/*.tmp', 'cache'])

  it('matches at any depth unless anchored', () => {
    expect(skip('/home/me/a.log', false)).toBe(true)
    expect(skip('/home/me/deep/er/b.log', false)).toBe(true)
    expect(skip('/home/me/build', true)).toBe(true)
    expect(skip('/home/me/src/build', true)).toBe(false)
    expect(skip('/home/me/cache', false)).toBe(true)
    expect(skip('/home/me/x/cache', true)).toBe(true)
  })

  it('"!" re-includes, a trailing slash matches directories only, ** spans directories', () => {
    expect(skip('/home/me/keep.log', false)).toBe(false)
    expect(skip('/home/me/node_modules', true)).toBe(true)
    expect(skip('/home/me/node_modules', false)).toBe(false)
    expect(skip('/home/me/pkg/node_modules', true)).toBe(true)
    expect(skip('/home/me/docs/a/b/c.tmp', false)).toBe(true)
    expect(skip('/home/me/src/c.tmp', false)).toBe(false)
  })

  it('never excludes the root or paths outside it', () => {
    expect(skip('/home/me', true)).toBe(false)
    expect(skip('/etc/a.log', false)).toBe(false)
    expect(skip('/home/meta.log', false)).toBe(false)
  })

  it('exact paths are always excluded, even without patterns', () => {
    const exact = excluder('/', [], ['/var/repo'])
    expect(exact('/var/repo', true)).toBe(true)
    expect(exact('/var/repository', true)).toBe(false)
    expect(excluder('/', ['tmp'])('/x/tmp', true)).toBe(true)
  })

  describe('ignore files', () => {
    let dir: string
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'plakar-exclude-'))
      await writeFile(join(dir, 'ignore'), '# comment\n\n*.o\r\n  \n!main.o\nbuild/\n')
    })
    afterAll(() => rm(dir, {recursive: true, force: true}))

    it('reads patterns, without comments or blank lines (CRLF too), after the command-line ones', () => {
      expect(ignorePatterns(['*.tmp'], [join(dir, 'ignore')])).toEqual(['*.tmp', '*.o', '!main.o', 'build/'])
    })

    it('a missing ignore file is a usage error naming it', () => {
      const missing = join(dir, 'nope')
      expect(() => ignorePatterns([], [missing])).toThrow(UsageError)
      expect(() => ignorePatterns([], [missing])).toThrow(missing)
      try {
        ignorePatterns([], [missing])
      } catch (error) {
        expect((error as UsageError).plakarExitCode).toBe(ExitCode.USAGE)
      }
    })
  })
})
