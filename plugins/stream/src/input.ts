import {open} from 'node:fs/promises'
import {resolve} from 'node:path'
import type {Readable} from 'node:stream'
import {createGunzip} from 'node:zlib'
import {NotFoundError, UsageError} from '@plakar/sdk'

/** Where an archive comes from: a file, or standard input ("-"). */
export type Input = {kind: 'file'; path: string} | {kind: 'stdin'}

/** "tar:/x.tar", "tar:x.tar", "tar://x.tar", "tgz:-" → the input. */
export function parseInput(location: string): Input {
  const rest = location.replace(/^[a-z]+:(\/\/)?/i, '')
  if (rest === '' || rest === '-') return {kind: 'stdin'}
  return {kind: 'file', path: resolve(rest)}
}

const GZIP_MAGIC = [0x1f, 0x8b]

/**
 * The archive's bytes, gunzipped when `gzip` is true, or when it is undefined and the data
 * starts with the gzip magic number (so tar: reads a .tar.gz too).
 */
export async function openInput(input: Input, gzip: boolean | undefined): Promise<Readable> {
  let raw: Readable
  if (input.kind === 'stdin') {
    if (process.stdin.isTTY) throw new UsageError('standard input is a terminal: pipe the archive in, or name a file (tar:FILE)')
    raw = process.stdin
  } else {
    // Opened here, not lazily by the stream, so a missing file is one clear error before the scan.
    let handle
    try {
      handle = await open(input.path, 'r')
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'ENOENT') throw new NotFoundError(`${input.path}: no such archive`)
      throw new UsageError(`cannot read ${input.path}: ${code ?? (error as Error).message}`)
    }
    raw = handle.createReadStream({highWaterMark: 1024 * 1024})
  }
  // The first chunk is looked at and put back (a file or pipe chunk holds far more than 2 bytes).
  const first = await nextChunk(raw)
  if (first) raw.unshift(first)
  const isGzip = gzip ?? (first !== null && first.length >= 2 && first[0] === GZIP_MAGIC[0] && first[1] === GZIP_MAGIC[1])
  if (!isGzip) return raw
  const gunzip = createGunzip()
  raw.on('error', (error) => gunzip.destroy(error))
  return raw.pipe(gunzip)
}

function nextChunk(stream: Readable): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    if (stream.readableEnded) return resolve(null)
    const cleanup = () => {
      stream.off('readable', onReadable)
      stream.off('end', onEnd)
      stream.off('error', onError)
    }
    const onReadable = () => {
      const chunk = stream.read() as Buffer | null
      if (chunk === null) return
      cleanup()
      resolve(chunk)
    }
    const onEnd = () => {
      cleanup()
      resolve(null)
    }
    const onError = (error: Error) => {
      cleanup()
      reject(error)
    }
    stream.on('readable', onReadable)
    stream.on('end', onEnd)
    stream.on('error', onError)
  })
}
