/**
 * A local user who can write in a restore target swaps what restore creates for symlinks while it
 * runs. Each test plays one step of that race deterministically, between two exporter calls, and
 * checks that nothing lands outside the target and nothing outside changes.
 */
import {lstatSync, mkdirSync, readdirSync, renameSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {mkdtemp} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import type {Exporter, FileInfo} from '@plakar/sdk'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import createExporter from '../src/exporter.js'
import {DirectoryHandles} from '../src/directory-handles.js'
import {context, removeTree} from './context.js'

const now = Date.now()
const dirInfo: FileInfo = {type: 'directory', size: 0, mode: 0o777, mtime: now}
const fileInfo = (size: number): FileInfo => ({type: 'file', size, mode: 0o644, mtime: now})
const content = (text: string) => Readable.from([Buffer.from(text)])

describe('fs exporter under a racing local user', () => {
  let dir: string
  let target: string
  let outside: string
  let exporter: Exporter

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'plakar-fs-race-'))
    target = join(dir, 'target')
    outside = join(dir, 'outside')
    mkdirSync(outside, {mode: 0o700})
    mkdirSync(join(outside, 'b'), {mode: 0o700})
    writeFileSync(join(outside, 'keep.txt'), 'precious\n')
    exporter = await createExporter(context(target))
  })
  afterEach(async () => {
    await exporter.close()
    await removeTree(dir)
  })

  /** The attacker's move: the directory restore made goes aside, a symlink to `outside` takes its name. */
  const swap = (rel: string) => {
    renameSync(join(target, rel), join(target, `${rel}.moved`))
    symlinkSync(outside, join(target, rel))
  }
  const outsideUntouched = () => {
    expect(readdirSync(outside).sort()).toEqual(['b', 'keep.txt'])
    expect(readdirSync(join(outside, 'b'))).toEqual([])
    expect(statSync(outside).mode & 0o777).toBe(0o700)
  }

  it('a file stored after its directory was swapped goes into the directory restore made', async () => {
    await exporter.createDirectory('/a', dirInfo)
    swap('a')
    await exporter.storeFile('/a/f.txt', content('secret\n'), fileInfo(7))
    outsideUntouched()
    expect(readdirSync(join(target, 'a.moved'))).toEqual(['f.txt'])
  })

  it('a grandchild stored after its grandparent was swapped never follows the symlink', async () => {
    await exporter.createDirectory('/a', dirInfo)
    await exporter.createDirectory('/a/b', dirInfo)
    swap('a')
    await exporter.storeFile('/a/b/f.txt', content('secret\n'), fileInfo(7))
    await exporter.createDirectory('/a/c', dirInfo)
    await exporter.createLink('/a/b/l', '/etc/passwd', 'symlink', {type: 'symlink', size: 0, mtime: now})
    await exporter.createLink('/a/b/h', '/a/b/f.txt', 'hardlink')
    outsideUntouched()
    expect(readdirSync(join(target, 'a.moved', 'b')).sort()).toEqual(['f.txt', 'h', 'l'])
    expect(readdirSync(join(target, 'a.moved')).sort()).toEqual(['b', 'c'])
  })

  it('a directory no longer held open is reopened without following the symlink now in its place', async () => {
    await exporter.createDirectory('/a', dirInfo)
    // Enough other directories to push /a out of the cache of open descriptors.
    for (let i = 0; i <= DirectoryHandles.LIMIT; i++) await exporter.createDirectory(`/d${i}`, dirInfo)
    swap('a')
    await expect(exporter.storeFile('/a/f.txt', content('secret\n'), fileInfo(7))).rejects.toThrow(/refused to write below .*\/a: it is a symlink/)
    await expect(exporter.createDirectory('/a/b', dirInfo)).rejects.toThrow(/symlink/)
    outsideUntouched()
  })

  it('metadata of a swapped directory is applied to the directory restore made, never through the symlink', async () => {
    await exporter.createDirectory('/a', dirInfo)
    swap('a')
    await exporter.setMetadata('/a', dirInfo)
    outsideUntouched()
    // The symlink itself is left alone; the moved directory is still restore's (not yet chmod'ed: it is not at /a).
    expect(lstatSync(join(target, 'a')).isSymbolicLink()).toBe(true)
  })

  it('a directory planted before restore creates it is used as an existing one: its mode is never changed', async () => {
    mkdirSync(join(target, 'x'), {mode: 0o755})
    await exporter.createDirectory('/x', dirInfo)
    await exporter.storeFile('/x/f.txt', content('data\n'), fileInfo(5))
    await exporter.setMetadata('/x', dirInfo)
    expect(statSync(join(target, 'x')).mode & 0o777).toBe(0o755)
    outsideUntouched()
  })
})
