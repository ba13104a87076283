import {openSync, readSync, closeSync} from 'node:fs'
import {gzipSync} from 'node:zlib'
import {fileTypeFromBuffer} from 'file-type/core'
import {describe, expect, it} from 'vitest'
import {looksLikeText, needsContent, signatureType, sniffType, sniffWithoutSignatures, typeFromName} from '../../src/engine/content-type.js'

const ts = Buffer.alloc(188 * 4, 0xff)
for (let i = 0; i < 4; i++) ts.set([0x47, 0x1f, 0xff, 0x10], i * 188)
const png = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex')

describe('content types', () => {
  it('believes a name that says text, and asks the content otherwise', () => {
    for (const name of ['a.md', 'a.json', 'a.svg', 'a.js', 'a.yaml']) expect(needsContent(typeFromName(name)), name).toBe(false)
    for (const name of ['a.ts', 'Makefile', 'a.py', 'a.png', 'a.pdf']) expect(needsContent(typeFromName(name)), name).toBe(true)
  })

  it('tells TypeScript from an MPEG transport stream by content', async () => {
    expect(await sniffType('/src/app.ts', typeFromName('app.ts'), Buffer.from('export const a = 1\n'))).toBe('text/x-typescript')
    expect(await sniffType('/clips/a.ts', typeFromName('a.ts'), ts)).toBe('video/mp2t')
    // Empty: no content says otherwise, and a .ts file in a tree is far more often source.
    expect(await sniffType('/src/index.ts', typeFromName('index.ts'), Buffer.alloc(0))).toBe('text/x-typescript')
  })

  it('names files the extension table does not know, and falls back on the name', async () => {
    expect(await sniffType('/photo', undefined, png)).toBe('image/png')
    expect(await sniffType('/Makefile', undefined, Buffer.from('all:\n\tcc -o a a.c\n'))).toBe('text/plain')
    expect(await sniffType('/blob', undefined, Buffer.from([0, 1, 2, 3, 0xfe]))).toBeUndefined()
    expect(await sniffType('/a.pdf', 'application/pdf', Buffer.from([0, 1, 2, 3, 0xfe]))).toBe('application/pdf')
    // A signature wins over the name.
    expect(await sniffType('/a.jpg', 'image/jpeg', png)).toBe('image/png')
  })

  it('answers gzip and ELF itself, with the type file-type gives them', async () => {
    // The running node binary: a real ELF executable.
    const fd = openSync(process.execPath, 'r')
    const elf = Buffer.alloc(4100)
    const n = readSync(fd, elf, 0, elf.length, 0)
    closeSync(fd)
    // A tar inside: file-type looks for one (ustar at 257, a valid header checksum), and still says gzip.
    const tar = Buffer.alloc(1024)
    tar.write('a.txt', 0)
    tar.write('0000644\0', 100)
    tar.write('00000000000\0', 124)
    tar.write('ustar\0' + '00', 257)
    tar.fill(' ', 148, 156)
    let sum = 0
    for (let i = 0; i < 512; i++) sum += tar[i]
    tar.write(sum.toString(8).padStart(6, '0') + '\0 ', 148)
    const samples: [string, Buffer][] = [
      ['/lib/node', elf.subarray(0, n)],
      ['/lib/libx.so.1', Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0])],
      ['/share/a.gz', gzipSync(Buffer.from('hello\n'.repeat(100)))],
      ['/share/a.tar.gz', gzipSync(tar)],
      ['/share/b.gz', gzipSync(Buffer.from('x')).subarray(0, 3)],
      ['/share/c.gz', gzipSync(Buffer.from('truncated stream '.repeat(50))).subarray(0, 20)],
    ]
    for (const [path, head] of samples) {
      const expected = (await fileTypeFromBuffer(head))?.mime
      expect(expected, path).toBeDefined()
      expect(await sniffType(path, typeFromName(path), head), path).toBe(expected)
      expect(await sniffType(path.replace(/\.[^/]*$/, ''), undefined, head), path).toBe(expected)
    }
  })

  it('leaves to file-type (on the main thread) only samples it must look at, with the same answers', async () => {
    const cases: [string, string | undefined, Buffer, 'decided' | 'signatures'][] = [
      ['/src/app.ts', typeFromName('app.ts'), Buffer.from('export const a = 1\n'), 'decided'],
      ['/Makefile', undefined, Buffer.from('all:\n\tcc -o a a.c\n'), 'decided'],
      ['/empty.pdf', 'application/pdf', Buffer.alloc(0), 'decided'],
      ['/lib/libx.so.1', undefined, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), 'decided'],
      ['/share/a.gz', typeFromName('a.gz'), gzipSync(Buffer.from('hello')), 'decided'],
      ['/clips/a.ts', typeFromName('a.ts'), ts, 'signatures'],
      ['/photo', undefined, png, 'signatures'],
      ['/a.jpg', 'image/jpeg', png, 'signatures'],
      ['/blob', undefined, Buffer.from([0, 1, 2, 3, 0xfe]), 'signatures'],
      ['/a.pdf', 'application/pdf', Buffer.from([0, 1, 2, 3, 0xfe]), 'signatures'],
      // A binary name with text content: an ASCII-only signature could still name it.
      ['/lib/a.pm', typeFromName('a.pm'), Buffer.from('package A;\n1;\n'), 'signatures'],
      ['/doc.pdf', 'application/pdf', Buffer.from('%PDF-1.4\n%\n'), 'signatures'],
    ]
    for (const [path, guess, head, step] of cases) {
      const sniffed = sniffWithoutSignatures(path, guess, head)
      expect('type' in sniffed ? 'decided' : 'signatures', path).toBe(step)
      expect(await signatureType(sniffed), path).toBe(await sniffType(path, guess, head))
    }
    expect(await signatureType(sniffWithoutSignatures('/doc.pdf', 'application/pdf', Buffer.from('%PDF-1.4\n%\n')))).toBe('application/pdf')
    expect(await signatureType(sniffWithoutSignatures('/lib/a.pm', typeFromName('a.pm'), Buffer.from('package A;\n1;\n')))).toBe('text/plain')
  })

  it('text is UTF-8 without control characters, a sequence cut at the sample end allowed', () => {
    expect(looksLikeText(Buffer.from('naïve café\r\n\tok'))).toBe(true)
    expect(looksLikeText(Buffer.from('é').subarray(0, 1))).toBe(true)
    expect(looksLikeText(Buffer.from([0x68, 0x00, 0x69]))).toBe(false)
    expect(looksLikeText(Buffer.from([0xff, 0xd8, 0xff]))).toBe(false)
  })
})
