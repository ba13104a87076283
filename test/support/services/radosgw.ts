import {execFile} from 'node:child_process'
import {join} from 'node:path'
import {promisify} from 'node:util'
import type {TestService} from './service.js'

const run = promisify(execFile)
const SCRIPTS = join(import.meta.dirname, '..', '..', '..', 'scripts', 'services')

/**
 * Ceph radosgw, the S3 server of the tests: one monitor, one in-memory OSD and the gateway on
 * 127.0.0.1:<free port>, started by scripts/services/ceph-rgw-up.sh (≈2.5 s) with a fresh test
 * user. Exports S3_ENDPOINT (http://127.0.0.1:PORT), S3_ACCESS_KEY, S3_SECRET_KEY and S3_REGION;
 * CEPH_WORK is where it lives. Debian packages: radosgw ceph-mon ceph-osd ceph-common.
 */
let work: string | undefined

export const radosgw: TestService = {
  name: 'radosgw',
  async start() {
    const {stdout} = await run('bash', [join(SCRIPTS, 'ceph-rgw-up.sh')], {timeout: 300_000, maxBuffer: 1 << 20}).catch((error) => {
      throw new Error(`radosgw did not start: ${String(error.stderr ?? error.message).trim().split('\n').slice(-15).join('\n')}`)
    })
    const env: Record<string, string> = {}
    for (const line of stdout.split('\n')) {
      const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim())
      if (m) env[m[1]] = m[2]
    }
    if (!env.S3_ENDPOINT || !env.CEPH_WORK) throw new Error(`radosgw: unexpected output from ceph-rgw-up.sh: ${stdout}`)
    work = env.CEPH_WORK
    return env
  },
  async stop() {
    if (!work) return
    await run('bash', [join(SCRIPTS, 'ceph-rgw-down.sh'), work], {timeout: 60_000})
    work = undefined
  },
}
