/**
 * Content types (issue 12): the first bytes decide where the name does not. A TypeScript source
 * named .ts is text, an MPEG transport stream named .ts is video, a PNG without an extension is an
 * image and a text file without one is text; a name that says text is believed. Counted in the
 * snapshot's summary (`info ID --json`: summary.types), through the chunking workers, for a small
 * file (read ahead whole) and a large one (read in pieces).
 */
import {copyFileSync, mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {ROOT} from '../support/cli.js'
import {backup, setup} from './helpers.js'

/** A real MPEG-2 transport stream: null packets (PID 0x1FFF), 188 bytes each, sync byte 0x47. */
function transportStream(packets: number): Buffer {
  const out = Buffer.alloc(188 * packets, 0xff)
  for (let i = 0; i < packets; i++) out.set([0x47, 0x1f, 0xff, 0x10 | (i & 0x0f)], i * 188)
  return out
}

describe('content types by content where the name is not enough', () => {
  const env = setup('plakar-types-')
  afterAll(() => env.s.cleanup())

  it('counts TypeScript as text and MPEG-TS as video, and names files without an extension', async () => {
    const src = join(env.s.dir, 'src')
    mkdirSync(src)
    writeFileSync(join(src, 'app.ts'), 'export const answer: number = 42\n')
    // Over a MiB: the worker reads it in pieces instead of whole.
    writeFileSync(join(src, 'generated.ts'), 'export const x = "é"\n'.repeat(80_000))
    writeFileSync(join(src, 'clip.ts'), transportStream(64))
    copyFileSync(join(ROOT, 'docs', 'screenshots', 'diff-light.png'), join(src, 'photo'))
    writeFileSync(join(src, 'NOTES'), 'remember the milk\n')
    writeFileSync(join(src, 'readme.md'), '# readme\n')
    await env.plakar.ok(env.at('create'))
    const {id} = await backup(env, ['--quiet', src])
    const [info] = await env.plakar.jsonLines(env.at('info', id))
    expect((info as {summary: {types: Record<string, number>}}).summary.types).toEqual({text: 4, video: 1, image: 1})
  })
})
