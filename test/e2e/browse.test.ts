/**
 * Reading a repository without restoring: ls (snapshots, a directory, -R, --tag), locate with a
 * glob, diff between two snapshots, several sources in one backup, rm.
 */
import {rm as rmFile, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {compareTrees, TreeBuilder} from '../support/tree.js'
import {backup, setup} from './helpers.js'

interface LsSnapshot {
  id: string
  tags: string[]
  importer: {root: string}
  files: number
}
interface LsEntry {
  path: string
  type: string
  size: number
  target?: string
  error?: string
}

describe('browsing snapshots', () => {
  const env = setup('plakar-browse-')
  const src = join(env.s.dir, 'src')
  let first: string
  let second: string

  beforeAll(async () => {
    const b = new TreeBuilder(src)
    await b.file('notes/todo.txt', 'one\ntwo\nthree\nfour\nfive\n')
    await b.file('notes/keep.txt', 'unchanged\n')
    await b.file('notes/gone.txt', 'will be removed\n')
    await b.file('notes/sub/deeper.md', '# deeper\n')
    await b.file('report-2024.PDF', '%PDF-1.4 not really\n')
    await b.file('photos/cat.jpg', 'jpeg bytes')
    await b.symlink('latest', 'notes/todo.txt')
    await b.finish()
    await env.plakar.ok(env.at('create'))
    first = (await backup(env, ['--tag', 'daily', '--tag', 'first', src])).id
    await writeFile(join(src, 'notes/todo.txt'), 'one\ntwo\nTHREE\nfour\nfive\n')
    await rmFile(join(src, 'notes/gone.txt'))
    await writeFile(join(src, 'notes/new.txt'), 'brand new\n')
    second = (await backup(env, ['--tag', 'daily', src])).id
  })
  afterAll(() => env.s.cleanup())

  it('lists snapshots, and only the tagged ones with --tag', async () => {
    const all = await env.plakar.jsonLines<LsSnapshot>(env.at('ls'))
    expect(all.map((s) => s.id)).toEqual([first, second])
    expect(all[0].tags.sort()).toEqual(['daily', 'first'])
    const tagged = await env.plakar.jsonLines<LsSnapshot>(env.at('ls', '--tag', 'first'))
    expect(tagged.map((s) => s.id)).toEqual([first])
    expect(await env.plakar.jsonLines(env.at('ls', '--tag', 'nope'))).toEqual([])
    const text = await env.plakar.ok(env.at('ls'))
    expect(String(text.stdout)).toContain(first.slice(0, 8))
    expect(String(text.stdout)).toMatch(/daily/)
  })

  it('lists one directory of a snapshot, and everything below it with -R', async () => {
    const top = await env.plakar.jsonLines<LsEntry>(env.at('ls', first))
    expect(top.map((e) => e.path)).toEqual([`${src}/latest`, `${src}/notes`, `${src}/photos`, `${src}/report-2024.PDF`])
    expect(top.find((e) => e.path.endsWith('/latest'))).toMatchObject({type: 'symlink', target: 'notes/todo.txt'})
    const notes = await env.plakar.jsonLines<LsEntry>(env.at('ls', `${first}:notes`))
    expect(notes.map((e) => e.path.slice(src.length))).toEqual(['/notes/gone.txt', '/notes/keep.txt', '/notes/sub', '/notes/todo.txt'])
    expect(notes.find((e) => e.path.endsWith('todo.txt'))).toMatchObject({type: 'file', size: 24})
    const recursive = await env.plakar.jsonLines<LsEntry>(env.at('ls', '-R', `${first}:notes`))
    expect(recursive.map((e) => e.path.slice(src.length))).toEqual([
      '/notes/gone.txt',
      '/notes/keep.txt',
      '/notes/sub',
      '/notes/sub/deeper.md',
      '/notes/todo.txt',
    ])
    const text = String((await env.plakar.ok(env.at('ls', `${first}:notes`))).stdout)
    expect(text.split('\n').filter(Boolean).map((l) => l.split(' ').at(-1))).toEqual(['gone.txt', 'keep.txt', 'sub', 'todo.txt'])
    const textR = String((await env.plakar.ok(env.at('ls', '--recursive', `${first}:notes`))).stdout)
    expect(textR).toContain(`${src}/notes/sub/deeper.md`)
  })

  it('locates files by glob across snapshots', async () => {
    const txt = String((await env.plakar.ok(env.at('locate', '*.txt'))).stdout).split('\n').filter(Boolean).sort()
    const expected = [
      `${first.slice(0, 8)}:${src}/notes/gone.txt`,
      `${first.slice(0, 8)}:${src}/notes/keep.txt`,
      `${first.slice(0, 8)}:${src}/notes/todo.txt`,
      `${second.slice(0, 8)}:${src}/notes/keep.txt`,
      `${second.slice(0, 8)}:${src}/notes/new.txt`,
      `${second.slice(0, 8)}:${src}/notes/todo.txt`,
    ].sort()
    expect(txt).toEqual(expected)
    // Case-insensitive, with a literal prefix and a character class.
    const pdf = await env.plakar.jsonLines<{snapshot: string; path: string}>(env.at('locate', 'report-202[0-9].pdf'))
    expect(pdf.map((p) => [p.snapshot, p.path])).toEqual([
      [first, `${src}/report-2024.PDF`],
      [second, `${src}/report-2024.PDF`],
    ])
    expect(String((await env.plakar.ok(env.at('locate', 'nothing-*'))).stdout)).toBe('')
  })

  it('diffs two snapshots: changed text as a unified diff, added and removed files listed', async () => {
    const r = await env.plakar.ok(env.at('diff', first, second))
    const out = String(r.stdout)
    // Paths absolute, as locate prints them.
    const lines = out.split('\n')
    expect(lines).toContain(`- ${join(src, 'notes/gone.txt')}`)
    expect(lines).toContain(`+ ${join(src, 'notes/new.txt')}`)
    expect(lines).toContain(`~ ${join(src, 'notes/todo.txt')}`)
    expect(out).not.toMatch(/keep\.txt/)
    expect(out).toMatch(/^@@ -1,5 \+1,5 @@$/m)
    expect(out).toMatch(/^-three$/m)
    expect(out).toMatch(/^\+THREE$/m)
    expect(out).toMatch(/^ two$/m)
    // Two files compared directly.
    const file = String((await env.plakar.ok(env.at('diff', `${first}:notes/todo.txt`, `${second}:notes/todo.txt`))).stdout)
    expect(file).toMatch(/^--- .*todo\.txt/m)
    expect(file).toMatch(/^\+\+\+ .*todo\.txt/m)
    expect(file).toMatch(/^-three\n\+THREE$/m)
    const json = await env.plakar.jsonLines<{change: string; path: string}>(env.at('diff', first, second))
    expect(json.map((c) => `${c.change} ${c.path}`).sort()).toEqual([`added ${join(src, 'notes/new.txt')}`, `modified ${join(src, 'notes/todo.txt')}`, `removed ${join(src, 'notes/gone.txt')}`])
  })

  it('backs up several sources into one snapshot', async () => {
    const multi = (await backup(env, [join(src, 'notes'), join(src, 'photos')])).id
    const top = await env.plakar.jsonLines<LsEntry>(env.at('ls', multi))
    expect(top.map((e) => e.path)).toEqual([`${src}/notes`, `${src}/photos`])
    const out = join(env.s.dir, 'out-multi')
    await env.plakar.ok(env.at('restore', '--to', out, multi))
    expect(await compareTrees(src, out, {ignore: (rel) => rel === 'latest' || rel === 'report-2024.PDF'})).toEqual([])
  })

  it('removes a snapshot: it is gone from ls and can no longer be used', async () => {
    const extra = (await backup(env, ['--tag', 'doomed', src])).id
    expect((await env.plakar.jsonLines<LsSnapshot>(env.at('ls'))).map((s) => s.id)).toContain(extra)
    await env.plakar.ok(env.at('rm', '--apply', extra.slice(0, 12)))
    const ids = (await env.plakar.jsonLines<LsSnapshot>(env.at('ls'))).map((s) => s.id)
    expect(ids).not.toContain(extra)
    expect(ids).toEqual(expect.arrayContaining([first, second]))
    const r = await env.plakar.run(env.at('ls', extra))
    expect(r.exitCode).toBe(66)
    // The others are untouched (the source has not changed since the second one).
    const out = join(env.s.dir, 'out-after-rm')
    await env.plakar.ok(env.at('restore', '--to', out, second))
    expect(await compareTrees(src, out)).toEqual([])
  })
})
