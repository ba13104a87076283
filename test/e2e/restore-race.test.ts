/**
 * The restore race, played for real: while the CLI restores 2,500 files in 50 directories, a
 * second process (the local user who can write in the target) keeps replacing every directory
 * restore has created by a symlink to a directory it must not reach. Before restore named files
 * through directory descriptors, 8 of 8 such runs wrote between 1,500 and 2,300 files there.
 * Whatever the swapper wins or loses, nothing may appear outside the target.
 */
import {execa} from 'execa'
import {mkdirSync, readdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {setup} from './helpers.js'

/** Swaps every real directory in the target for a symlink to `outside`, round after round, until killed. */
const SWAPPER = `
const fs = require('node:fs')
const [target, outside] = process.argv.slice(1)
process.stdout.write('ready\\n')
for (;;) {
  let names = []
  try { names = fs.readdirSync(target) } catch {}
  for (const name of names) {
    if (name.endsWith('.moved')) continue
    const path = target + '/' + name
    try {
      if (!fs.lstatSync(path).isDirectory()) continue
      fs.renameSync(path, path + '.' + process.hrtime.bigint() + '.moved')
      fs.symlinkSync(outside, path)
    } catch {}
  }
}
`

describe('restore while a local user swaps its directories for symlinks', () => {
  const env = setup('plakar-race-')
  const source = join(env.s.dir, 'source')
  const outside = join(env.s.dir, 'outside')

  beforeAll(async () => {
    for (let d = 0; d < 50; d++) {
      mkdirSync(join(source, `dir${d}`, 'sub'), {recursive: true})
      for (let f = 0; f < 25; f++) {
        writeFileSync(join(source, `dir${d}`, `f${f}.txt`), `file ${d}/${f}\n`)
        writeFileSync(join(source, `dir${d}`, 'sub', `g${f}.txt`), `file ${d}/sub/${f}\n`)
      }
    }
    mkdirSync(outside, {mode: 0o700})
    await env.plakar.ok(env.at('create'))
    await env.plakar.ok(env.at('backup', source))
  })
  afterAll(() => env.s.cleanup())

  for (const round of [1, 2, 3]) {
    it(`round ${round}: nothing is written outside the target`, async () => {
      const target = join(env.s.dir, `target${round}`)
      mkdirSync(target)
      const swapper = execa('node', ['-e', SWAPPER, target, outside], {reject: false, buffer: false})
      // Start the restore only once the swapper runs, so every round really races.
      await new Promise<void>((resolve) => swapper.stdout!.once('data', () => resolve()))
      const restore = await env.plakar.run(env.at('restore', '--to', target))
      swapper.kill('SIGKILL')
      await swapper
      expect([0, 1], String(restore.stderr)).toContain(restore.exitCode)
      expect(readdirSync(outside)).toEqual([])
    })
  }
})
