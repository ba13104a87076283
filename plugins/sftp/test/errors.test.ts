import {describe, expect, it} from 'vitest'
import {isFatal, isNotFound} from '@plakar/sdk'
import {finalError, isConnectionLost, normalize, STATUS} from '../src/errors.js'

describe('sftp error classification', () => {
  it('permission denied and no such file are permanent; no such file is a not-found', () => {
    const denied = normalize(Object.assign(new Error('Permission denied'), {code: STATUS.PERMISSION_DENIED}), 'open', '/x')
    expect(denied).toMatchObject({code: 'EACCES', transient: false, message: 'open /x: permission denied'})
    const missing = normalize(Object.assign(new Error('No such file'), {code: STATUS.NO_SUCH_FILE}), 'stat', '/y')
    expect(missing).toMatchObject({code: 'ENOENT', transient: false})
    expect(isNotFound(missing)).toBe(true)
    expect(normalize(Object.assign(new Error('Failure'), {code: STATUS.FAILURE}), 'rename').transient).toBe(false)
    expect(normalize(Object.assign(new Error('x'), {code: STATUS.OP_UNSUPPORTED}), 'x').transient).toBe(false)
  })

  it('lost connections, resets, timeouts and keepalive failures are transient', () => {
    for (const error of [
      new Error('No response from server'),
      Object.assign(new Error('read ECONNRESET'), {code: 'ECONNRESET'}),
      Object.assign(new Error('Keepalive timeout'), {level: 'client-timeout'}),
      Object.assign(new Error('Timed out while waiting for handshake'), {level: 'client-timeout'}),
      Object.assign(new Error('x'), {code: STATUS.CONNECTION_LOST}),
      Object.assign(new Error('write EPIPE'), {code: 'EPIPE'}),
      new Error('Channel open failure: open failed'),
    ]) {
      expect(isConnectionLost(error), error.message).toBe(true)
      expect(normalize(error, 'read').transient, error.message).toBe(true)
    }
  })

  it('authentication failures are not connection losses', () => {
    expect(isConnectionLost(Object.assign(new Error('All configured authentication methods failed'), {level: 'client-authentication'}))).toBe(false)
  })

  it('after the last attempt: one line naming the server and the attempts', () => {
    const e = finalError(normalize(new Error('No response from server'), 'write', '/r/x'), 'root@h:2222', 6) as Error
    expect(e.message).toBe('sftp root@h:2222: write /r/x: connection lost (No response from server); gave up after 6 attempts')
    expect(e.message.split('\n')).toHaveLength(1)
    expect(isFatal(e), 'giving up is fatal, as for every storage').toBe(true)
    const permanent = normalize(Object.assign(new Error('Permission denied'), {code: STATUS.PERMISSION_DENIED}), 'open', '/x')
    expect(isFatal(finalError(permanent, 'root@h:2222', 1))).toBe(false)
  })
})
