import type {FileHandle} from 'node:fs/promises'

/** Writes all of `data` at the handle's position (a write may be short). */
export async function writeFully(handle: FileHandle, data: Uint8Array): Promise<void> {
  let offset = 0
  while (offset < data.length) {
    const {bytesWritten} = await handle.write(data, offset, data.length - offset)
    offset += bytesWritten
  }
}

/** Writes several buffers with as few writev calls as the kernel allows. */
export async function writeAll(handle: FileHandle, parts: Uint8Array[]): Promise<void> {
  let first = 0
  while (first < parts.length) {
    let {bytesWritten} = await handle.writev(first === 0 ? parts : parts.slice(first))
    while (first < parts.length && bytesWritten >= parts[first].length) bytesWritten -= parts[first++].length
    if (bytesWritten > 0) parts[first] = parts[first].subarray(bytesWritten)
  }
}
