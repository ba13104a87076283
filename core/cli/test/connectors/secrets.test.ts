import {describe, expect, it} from 'vitest'
import {MASK, maskOptions, redactArgs, redactLocation, schemaSecrets} from '../../src/connectors/secrets.js'

describe('the secrets rule', () => {
  it('takes the schema marks and secret-looking names, passwd included', () => {
    const schema = {properties: {pin: {writeOnly: true}, code: {'x-secret': true}, passwd: {}, host: {}, user: {}}}
    expect(schemaSecrets(schema).sort()).toEqual(['code', 'passwd', 'pin'])
    expect(maskOptions({pin: '1', passwd: '2', user: 'me', api_key: '3', host: 'h'}, ['pin'])).toEqual({pin: MASK, passwd: MASK, user: 'me', api_key: MASK, host: 'h'})
  })

  it('hides the password of user:password@ and secret query parameters of a location', () => {
    expect(redactLocation('sftp://me:hunter2@host:22/srv')).toBe(`sftp://me:${MASK}@host:22/srv`)
    expect(redactLocation('sftp://me@host/srv')).toBe('sftp://me@host/srv')
    expect(redactLocation('/plain/path')).toBe('/plain/path')
    expect(redactLocation('s3://h/b?secret_access_key=abc&region=x')).toBe(`s3://h/b?secret_access_key=${MASK}&region=x`)
  })

  it('hides option values and location credentials in a command line', () => {
    const argv = ['at', 'sftp://u:pw@h/r', 'backup', '-o', 'password=xx', '--option=passwd=yy', '-opassword=zz', '--tag', 'a=b', 'token=1', '/a/b=c', 'pin=4']
    const out = redactArgs(argv, ['pin'])
    expect(out).toEqual(['at', `sftp://u:${MASK}@h/r`, 'backup', '-o', `password=${MASK}`, `--option=passwd=${MASK}`, `-opassword=${MASK}`, '--tag', 'a=b', `token=${MASK}`, '/a/b=c', `pin=${MASK}`])
    expect(out.join(' ')).not.toMatch(/pw|xx|yy|zz/)
  })
})
