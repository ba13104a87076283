import {randomBytes} from 'node:crypto'
import {mkdir, rm} from 'node:fs/promises'
import {join} from 'node:path'
import type {Logger} from '@plakar/sdk'
import {SftpConnector, type SftpConfig} from '../src/connector.js'
import {parseSftpLocation} from '../src/location.js'

/** The sshd started by test/support/services/sshd.ts. A missing service fails, never skips. */
export function sshdEnv() {
  const {SFTP_HOST, SFTP_PORT, SFTP_USER, SFTP_KEY, SFTP_WRONG_KEY, SFTP_KNOWN_HOSTS, SFTP_HOST_PUB, SFTP_ROOT, SFTP_PASSWORD} = process.env
  if (!SFTP_PORT || !SFTP_KEY || !SFTP_ROOT || !SFTP_KNOWN_HOSTS) {
    throw new Error('the sshd test service is not running: run the tests through vitest (global setup starts it; PLAKAR_TEST_SERVICES must include sshd)')
  }
  return {
    host: SFTP_HOST ?? '127.0.0.1',
    port: Number(SFTP_PORT),
    user: SFTP_USER ?? 'root',
    key: SFTP_KEY,
    wrongKey: SFTP_WRONG_KEY!,
    knownHosts: SFTP_KNOWN_HOSTS,
    hostPub: SFTP_HOST_PUB!,
    root: SFTP_ROOT,
    password: SFTP_PASSWORD,
  }
}

export const quietLogger: Logger = {debug() {}, info() {}, warn() {}}

/** A fresh directory under the server's data root: its sftp:// location and its local path. */
export async function remoteDir(prefix: string, port?: number) {
  const env = sshdEnv()
  const name = `${prefix}-${randomBytes(6).toString('hex')}`
  const local = join(env.root, name)
  return {
    local,
    location: `sftp://${env.user}@${env.host}:${port ?? env.port}${local}`,
    cleanup: () => rm(local, {recursive: true, force: true}),
    mkdir: () => mkdir(local, {recursive: true}),
  }
}

export function keyConfig(extra: SftpConfig = {}): SftpConfig & Record<string, unknown> {
  const env = sshdEnv()
  return {identity: env.key, known_hosts: env.knownHosts, ...extra}
}

export function connector(location: string, config: SftpConfig = keyConfig(), logger: Logger = quietLogger): SftpConnector {
  return new SftpConnector(parseSftpLocation(location), config, logger)
}
