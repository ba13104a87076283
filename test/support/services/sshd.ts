import {execFile} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {join} from 'node:path'
import {promisify} from 'node:util'
import type {TestService} from './service.js'

const run = promisify(execFile)
const SCRIPTS = join(import.meta.dirname, '..', '..', '..', 'scripts', 'services')

/**
 * OpenSSH sshd, the SFTP server of the tests: 127.0.0.1:<free port>, its own host key, key and
 * password authentication, every session an SFTP session starting in SFTP_ROOT. Started by
 * scripts/services/sshd-up.sh (≈0.3 s). Exports SFTP_HOST, SFTP_PORT, SFTP_USER, SFTP_KEY (an
 * authorised private key), SFTP_WRONG_KEY (one that is not), SFTP_KNOWN_HOSTS (pins the host
 * key), SFTP_HOST_PUB, SFTP_ROOT, SFTP_PASSWORD (random, per run) and SFTP_WORK.
 * Debian packages: openssh-server openssh-client openssl.
 */
let work: string | undefined

export const sshd: TestService = {
  name: 'sshd',
  async start() {
    const password = `pw-${randomBytes(9).toString('base64url')}`
    const {stdout} = await run('bash', [join(SCRIPTS, 'sshd-up.sh')], {
      timeout: 240_000,
      env: {...process.env, SFTP_PASSWORD: password},
    }).catch((error) => {
      throw new Error(`sshd did not start: ${String(error.stderr ?? error.message).trim().split('\n').slice(-10).join('\n')}`)
    })
    const env: Record<string, string> = {}
    for (const line of stdout.split('\n')) {
      const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim())
      if (m) env[m[1]] = m[2]
    }
    if (!env.SFTP_PORT || !env.SFTP_WORK) throw new Error(`sshd: unexpected output from sshd-up.sh: ${stdout}`)
    work = env.SFTP_WORK
    return {...env, SFTP_PASSWORD: password}
  },
  async stop() {
    if (!work) return
    await run('bash', [join(SCRIPTS, 'sshd-down.sh'), work], {timeout: 30_000})
    work = undefined
  },
}
