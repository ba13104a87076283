import {describe, expect, it} from 'vitest'
import {
  AuthError,
  ExitCode,
  exitCodeOf,
  FormatTooNewError,
  IntegrityError,
  isFatal,
  isNotFound,
  markFatal,
  messageOf,
  NotFoundError,
  ObjectNotFoundError,
  PlakarError,
  UsageError,
} from '../src/errors.js'

describe('errors', () => {
  it('each class carries its documented exit code', () => {
    expect(exitCodeOf(new UsageError('x'))).toBe(2)
    expect(exitCodeOf(new IntegrityError('x'))).toBe(65)
    expect(exitCodeOf(new NotFoundError('x'))).toBe(66)
    expect(exitCodeOf(new ObjectNotFoundError('x'))).toBe(66)
    expect(exitCodeOf(new AuthError('x'))).toBe(77)
    expect(exitCodeOf(new FormatTooNewError('x'))).toBe(78)
    expect(exitCodeOf(new PlakarError('x'))).toBe(ExitCode.ERROR)
    expect(exitCodeOf(new Error('x'))).toBe(1)
    expect(exitCodeOf('a string')).toBe(1)
    expect(new AuthError('x').name).toBe('AuthError')
  })

  it('a connector that gave up marks its error fatal, keeping its class, message and exit code', () => {
    const error = markFatal(new AuthError('s3 http://x: credentials refused'))
    expect(isFatal(error)).toBe(true)
    expect(error).toBeInstanceOf(AuthError)
    expect(exitCodeOf(error)).toBe(77)
    expect(isFatal(new PlakarError('one file'))).toBe(false)
    expect(isFatal(Object.assign(new Error('from another copy of the SDK'), {fatal: true}))).toBe(true)
    expect(isFatal(undefined)).toBe(false)
  })

  it('exit codes are read structurally: an error from another copy of the SDK counts', () => {
    expect(exitCodeOf(Object.assign(new Error('from a plugin'), {plakarExitCode: 77}))).toBe(77)
  })

  it('isNotFound accepts the SDK error, notFound === true and code ENOENT, nothing else', () => {
    expect(isNotFound(new ObjectNotFoundError('x'))).toBe(true)
    expect(isNotFound(Object.assign(new Error('x'), {notFound: true}))).toBe(true)
    expect(isNotFound(Object.assign(new Error('x'), {code: 'ENOENT'}))).toBe(true)
    for (const other of [new NotFoundError('snapshot'), new Error('x'), Object.assign(new Error('x'), {code: 'EACCES'}), {notFound: 'yes'}, null, undefined, 'ENOENT']) {
      expect(isNotFound(other), String(other)).toBe(false)
    }
  })

  it('messageOf gives a message for anything thrown', () => {
    expect(messageOf(new Error('boom'))).toBe('boom')
    expect(messageOf('plain')).toBe('plain')
    expect(messageOf(42)).toBe('42')
  })
})
