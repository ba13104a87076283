import {homedir} from 'node:os'
import {describe, expect, it} from 'vitest'
import {expandPath, parseLocation, redactLocation} from '../../src/connectors/location.js'

describe('location parsing', () => {
  it('bare paths are fs locations, made absolute', () => {
    expect(parseLocation('/var/backups')).toEqual({scheme: 'fs', location: '/var/backups'})
    expect(parseLocation('repo', '/home/me')).toEqual({scheme: 'fs', location: '/home/me/repo'})
    expect(parseLocation('./a:b', '/home/me')).toEqual({scheme: 'fs', location: '/home/me/a:b'})
    expect(parseLocation('/with:colon/x')).toEqual({scheme: 'fs', location: '/with:colon/x'})
    expect(parseLocation('~/backups')).toEqual({scheme: 'fs', location: `${homedir()}/backups`})
    expect(parseLocation('../up', '/home/me')).toEqual({scheme: 'fs', location: '/home/up'})
  })

  it('a scheme selects the connector and the location is kept verbatim', () => {
    expect(parseLocation('s3://127.0.0.1:9000/bucket/prefix')).toEqual({scheme: 's3', location: 's3://127.0.0.1:9000/bucket/prefix'})
    expect(parseLocation('sftp://me@host:2222/srv/repo')).toEqual({scheme: 'sftp', location: 'sftp://me@host:2222/srv/repo'})
    expect(parseLocation('sqlite:/tmp/repo.db')).toEqual({scheme: 'sqlite', location: 'sqlite:/tmp/repo.db'})
    expect(parseLocation('fs:/srv/repo')).toEqual({scheme: 'fs', location: 'fs:/srv/repo'})
    expect(parseLocation('my-plugin+v2:thing').scheme).toBe('my-plugin+v2')
  })

  it('scheme names are case-insensitive', () => {
    expect(parseLocation('S3://host/bucket').scheme).toBe('s3')
  })

  it('expandPath resolves ~ and relative paths', () => {
    expect(expandPath('~')).toBe(homedir())
    expect(expandPath('~/x')).toBe(`${homedir()}/x`)
    expect(expandPath('a/../b', '/r')).toBe('/r/b')
  })
})

describe('location redaction', () => {
  it('hides a password in the userinfo', () => {
    expect(redactLocation('s3://AKIAEXAMPLE:s3cr3t@127.0.0.1:9000/bucket')).toBe('s3://AKIAEXAMPLE:********@127.0.0.1:9000/bucket')
    expect(redactLocation('sftp://me:hunter2@host/path')).toBe('sftp://me:********@host/path')
    expect(redactLocation('SFTP://me:hunter2@host/path')).not.toContain('hunter2')
    expect(redactLocation('sftp://:only-secret@host/')).not.toContain('only-secret')
  })

  it('leaves locations without a password untouched', () => {
    for (const location of ['sftp://me@host:22/path', 's3://host:9000/bucket', '/var/repo', 'sqlite:/a:b@c.db', 'fs:/x', 's3://host/bucket/a:b@c']) {
      expect(redactLocation(location)).toBe(location)
    }
  })
})
