import {homedir} from 'node:os'
import {resolve} from 'node:path'

/**
 * A location as the user wrote it: "/path", "./rel", "~/x", "fs:/path", "s3://host/bucket",
 * "sftp://user@host/path", "sqlite:/file.db", or a scheme an installed plugin serves.
 * Anything without a scheme is a local path, served by the "fs" connectors.
 */
export interface ParsedLocation {
  scheme: string
  /** The location to hand to the connector, with bare paths made absolute. */
  location: string
}

const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):/

export function parseLocation(raw: string, cwd = process.cwd()): ParsedLocation {
  const m = SCHEME.exec(raw)
  if (!m || raw.startsWith('./') || raw.startsWith('/')) {
    return {scheme: 'fs', location: expandPath(raw, cwd)}
  }
  return {scheme: m[1].toLowerCase(), location: raw}
}

export function expandPath(path: string, cwd = process.cwd()): string {
  if (path === '~') return homedir()
  if (path.startsWith('~/')) return resolve(homedir(), path.slice(2))
  return resolve(cwd, path)
}

/** Hides credentials a location may carry: see secrets.ts, the one rule for secrets. */
export {redactLocation} from './secrets.js'
