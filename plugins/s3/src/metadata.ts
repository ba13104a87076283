/**
 * S3 user metadata travels in HTTP headers. The SDK sends header strings as UTF-8 and hands
 * received headers over byte by byte (Latin-1), so "é" comes back as "Ã©"; AWS itself returns
 * non-ASCII values RFC 2047-encoded ("=?UTF-8?B?w6k=?="). Values are decoded to the text that
 * was written, so that snapshots show it and writing it back stores the same bytes.
 */
export function decodeMetadataValue(raw: string): string {
  const mime = /^=\?utf-8\?([bq])\?(.*)\?=$/i.exec(raw)
  if (mime) {
    const bytes =
      mime[1].toLowerCase() === 'b'
        ? Buffer.from(mime[2], 'base64')
        : Buffer.from(mime[2].replace(/_/g, ' ').replace(/=([0-9a-f]{2})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1')
    return bytes.toString('utf8')
  }
  // eslint-disable-next-line no-control-regex
  if (/^[\u0000-\u007f]*$/.test(raw) || /[^\u0000-\u00ff]/.test(raw)) return raw
  const bytes = Buffer.from(raw, 'latin1')
  const text = bytes.toString('utf8')
  // Bytes that are not UTF-8 stay as they came.
  return Buffer.from(text, 'utf8').equals(bytes) ? text : raw
}

export function decodeMetadata(metadata: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(metadata ?? {})) out[name.toLowerCase()] = decodeMetadataValue(value)
  return out
}
