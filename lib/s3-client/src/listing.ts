/** A key of a listing made with EncodingType=url (AWS writes spaces as "+", radosgw as %20). */
export function decodeListedKey(key: string, encoding: string | undefined): string {
  if (encoding !== 'url') return key
  return decodeURIComponent(key.replace(/\+/g, '%20'))
}
