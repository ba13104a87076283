/**
 * The randomized robustness run (issue 11; kopia's robustness suite is the model). For each
 * storage — fs, S3 (radosgw) and SFTP (sshd), the remote ones through the fault proxy — two
 * clients with caches of their own run random operations on one repository, two at a time:
 * backup of a source that changes between rounds, restore, rm --apply, prune --apply,
 * maintenance --grace 0, sync to a local repository and check, under random network faults (cuts, stalls, bit flips, refused connections,
 * latency) and kill -9 at random moments. After each round, with the network healthy, a client
 * that never saw the repository runs a full `check`, and every snapshot a backup reported as
 * done (and no successful rm or prune removed) must be listed and restore bit-exact, from the
 * repository and, once synced, from the sync target (checked too).
 *
 * Figures (printed, and asserted): rounds, operations, faults injected, kills, corrupted
 * repositories (a failed check: must be 0) and data lost (a reported snapshot missing or not
 * restoring bit-exact: must be 0). Failures of faulted operations are allowed, but each must be
 * one line without a stack trace.
 *
 * `npm test` runs a short version (ROBUSTNESS_ROUNDS, default 1 round of 4 operations per
 * storage); `npm run robustness` a longer one. ROBUSTNESS_SEED replays a run (every random
 * choice comes from it; only the timing of the machine differs), ROBUSTNESS_STORAGES narrows it
 * (fs,s3,sftp).
 */
import {createHash, randomBytes} from 'node:crypto'
import {readFileSync, writeFileSync} from 'node:fs'
import {mkdir, readdir, readFile, rm, writeFile} from 'node:fs/promises'
import {join, relative} from 'node:path'
import type {Result, ResultPromise} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {accessKey, endpoint, rgwExcluded, secretKey, uniqueName} from '../support/rgw.js'
import {Plakar, scratch} from '../support/cli.js'
import {FaultProxy, type Faults} from '../support/fault-proxy.js'

const ROUNDS = Number(process.env.ROBUSTNESS_ROUNDS ?? 1)
const OPS = Number(process.env.ROBUSTNESS_OPS ?? 4)
const SEED = Number(process.env.ROBUSTNESS_SEED ?? Math.floor(Math.random() * 2 ** 31))
const only = process.env.ROBUSTNESS_STORAGES?.split(',')
const services = process.env.PLAKAR_TEST_SERVICES
const serviceWanted = (name: string) => services === undefined || services === 'all' || services.split(',').includes(name)

/** mulberry32: a small seeded generator, so a seed replays every choice. */
function generator(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

interface Figures {
  storage: string
  seed: number
  rounds: number
  operations: number
  byOperation: Partial<Record<Op, number>>
  failedOperations: number
  faults: number
  flips: number
  kills: number
  corruptedRepositories: number
  dataLost: number
  problems: string[]
}

type Op = 'backup' | 'restore' | 'rm' | 'prune' | 'maintenance' | 'sync' | 'check'
const OP_WEIGHTS: [Op, number][] = [
  ['backup', 5],
  ['restore', 2],
  ['rm', 1],
  ['prune', 1],
  ['maintenance', 1],
  ['sync', 1],
  ['check', 1],
]

const sha = (data: Uint8Array) => createHash('sha256').update(data).digest('hex')

async function manifestOf(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  const walk = async (d: string) => {
    for (const e of await readdir(d, {withFileTypes: true})) {
      const p = join(d, e.name)
      if (e.isDirectory()) await walk(p)
      else out.set(relative(dir, p), sha(await readFile(p)))
    }
  }
  await walk(dir)
  return out
}

function sameManifest(expected: Map<string, string>, actual: Map<string, string>): string | undefined {
  for (const [path, hash] of expected) if (actual.get(path) !== hash) return `${path}: ${actual.has(path) ? 'different content' : 'missing'}`
  for (const path of actual.keys()) if (!expected.has(path)) return `${path}: not in the snapshot`
  return undefined
}

/** A one-line failure: no stack trace, whatever the fault. */
function oneLine(r: Result): string | undefined {
  const err = String(r.stderr)
  if (/\n\s+at .+:\d+:\d+\)?\n/.test(err) || /^\s+at /m.test(err)) return `stack trace: ${err.slice(0, 400)}`
  return undefined
}

interface Storage {
  name: string
  enabled: boolean
  /** The repository location (through the proxy when there is one) and its options. */
  location: (proxy?: FaultProxy) => Promise<string[]>
  /** The server behind the proxy, when the storage is remote. */
  target?: () => {host: string; port: number}
}

const sftpEnv = () => {
  const {SFTP_PORT, SFTP_USER, SFTP_KEY, SFTP_ROOT, SFTP_HOST_PUB} = process.env
  if (!SFTP_PORT || !SFTP_KEY || !SFTP_ROOT || !SFTP_HOST_PUB) throw new Error('SFTP_PORT is not set: sshd did not start (see test/support/services/sshd.ts)')
  return {port: Number(SFTP_PORT), user: SFTP_USER ?? 'root', key: SFTP_KEY, root: SFTP_ROOT, hostPub: SFTP_HOST_PUB}
}

describe(`robustness: random operations under faults and kill -9 (seed ${SEED})`, () => {
  const s = scratch('plakar-robustness-')
  const all: Figures[] = []
  afterAll(() => {
    if (all.length > 0) {
      const total = all.reduce(
        (t, f) => ({
          rounds: t.rounds + f.rounds,
          operations: t.operations + f.operations,
          faults: t.faults + f.faults,
          kills: t.kills + f.kills,
          corruptedRepositories: t.corruptedRepositories + f.corruptedRepositories,
          dataLost: t.dataLost + f.dataLost,
        }),
        {rounds: 0, operations: 0, faults: 0, kills: 0, corruptedRepositories: 0, dataLost: 0},
      )
      process.stdout.write(`robustness seed=${SEED} ${JSON.stringify({total, storages: all.map(({problems, ...f}) => ({...f, problems: problems.length}))})}\n`)
    }
    s.cleanup()
  })

  const storages: Storage[] = [
    {name: 'fs', enabled: true, location: async () => [join(s.dir, 'fs-repo')]},
    {
      name: 's3',
      enabled: !rgwExcluded && serviceWanted('radosgw'),
      target: () => {
        const u = new URL(endpoint)
        return {host: u.hostname, port: Number(u.port)}
      },
      location: async (proxy) => [`s3://127.0.0.1:${proxy!.port}/${uniqueName('plakar-robust')}/repo`, '-o', 'use_tls=false', '-o', 'timeout=3', '-o', 'retries=4'],
    },
    {
      name: 'sftp',
      enabled: serviceWanted('sshd'),
      target: () => ({host: '127.0.0.1', port: sftpEnv().port}),
      location: async (proxy) => {
        const env = sftpEnv()
        // The proxy's port is another name for the server: pin the host key under it too.
        const key = readFileSync(env.hostPub, 'utf8').split(/\s+/).slice(0, 2).join(' ')
        const knownHosts = join(s.dir, 'proxy_known_hosts')
        writeFileSync(knownHosts, `[127.0.0.1]:${proxy!.port} ${key}\n`)
        const path = `${env.root}/robust-${randomBytes(4).toString('hex')}`
        return [`sftp://${env.user}@127.0.0.1:${proxy!.port}${path}`, '-o', `identity=${env.key}`, '-o', `known_hosts=${knownHosts}`, '-o', 'timeout=3', '-o', 'retries=4']
      },
    },
  ]

  for (const storage of storages) {
    const enabled = storage.enabled && (!only || only.includes(storage.name))
    it.skipIf(!enabled)(`${storage.name}: every reported snapshot survives, check passes after each round`, {timeout: 60 * 60_000}, async () => {
      const random = generator(SEED ^ sha(Buffer.from(storage.name)).charCodeAt(0))
      const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]
      const weighted = (): Op => {
        const total = OP_WEIGHTS.reduce((t, [, w]) => t + w, 0)
        let r = random() * total
        for (const [op, w] of OP_WEIGHTS) if ((r -= w) < 0) return op
        return 'backup'
      }
      const f: Figures = {storage: storage.name, seed: SEED, rounds: 0, operations: 0, byOperation: {}, failedOperations: 0, faults: 0, flips: 0, kills: 0, corruptedRepositories: 0, dataLost: 0, problems: []}
      all.push(f)
      const base = join(s.dir, storage.name)
      const src = join(base, 'src')
      await mkdir(src, {recursive: true})
      const proxy = storage.target ? await FaultProxy.start(storage.target()) : undefined
      const env = {
        NODE_ENV: undefined as unknown as string,
        SSH_AUTH_SOCK: undefined as unknown as string,
        AWS_ACCESS_KEY_ID: accessKey,
        AWS_SECRET_ACCESS_KEY: secretKey,
        AWS_REGION: 'us-east-1',
      }
      const clients = [0, 1].map((i) => new Plakar(join(base, `client-${i}`), env))
      for (const c of clients) await mkdir(c.home, {recursive: true})
      const at = ['at', ...(await storage.location(proxy))]
      try {
        await clients[0].ok([...at, 'create'])

        /** Snapshots a backup reported, with the source as it was; and those rm may have removed. */
        const reported = new Map<string, Map<string, string>>()
        const removed = new Set<string>()
        const maybeRemoved = new Set<string>()
        /** Snapshots a sync reported as done, in the sync target (an fs repository). */
        const synced = new Set<string>()
        const mirror = join(base, 'mirror')
        await clients[0].ok(['at', mirror, 'create'])
        let outputs = 0

        /** Changes the source: new, changed and deleted files, some large enough for several packfiles' worth of chunks. */
        const mutate = async () => {
          const existing = [...(await manifestOf(src)).keys()]
          for (const path of existing) if (random() < 0.2) await rm(join(src, path))
          const added = 3 + Math.floor(random() * 6)
          for (let i = 0; i < added; i++) {
            const dir = join(src, `d${Math.floor(random() * 4)}`)
            await mkdir(dir, {recursive: true})
            const size = random() < 0.15 ? 1_000_000 + Math.floor(random() * 3_000_000) : Math.floor(random() * 40_000)
            await writeFile(join(dir, `f${Math.floor(random() * 1e9).toString(36)}.bin`), randomBytes(size))
          }
        }

        /**
         * Faults set so far: the proxy is shared, so an operation running beside a faulted one
         * meets its faults too. An operation judged "without a fault" saw no fault set from its
         * start to its end, by itself or by the other client.
         */
        let faultsSet = 0
        let faulted = false

        /** A fault for the next operation, or none. */
        const fault = (): Faults | undefined => {
          if (!proxy || random() < 0.35) return undefined
          const kinds: Faults[] = [
            {cutAfterBytes: 1 + Math.floor(random() * 2_000_000), connections: 1 + Math.floor(random() * 3)},
            {cutAfterBytes: 1 + Math.floor(random() * 200_000), cutWith: 'close', connections: 1},
            {stallAfterBytes: Math.floor(random() * 500_000), connections: 1},
            {refuse: true, connections: 1 + Math.floor(random() * 2)},
            {flipProbability: 0.02 + random() * 0.1, direction: pick(['up', 'down', 'both'] as const)},
            {latencyMs: 5 + Math.floor(random() * 30)},
          ]
          return pick(kinds)
        }

        const run = async (client: Plakar, op: Op): Promise<void> => {
          const live = [...reported.keys()].filter((id) => !removed.has(id))
          let args: string[]
          let out: string | undefined
          let target: string | undefined
          switch (op) {
            case 'backup':
              args = ['backup', '--json', src]
              break
            case 'restore':
              if (live.length === 0) return
              target = pick(live)
              out = join(base, `out-${outputs++}`)
              args = ['restore', '--to', out, target]
              break
            case 'rm':
              if (live.length < 2) return
              target = pick(live)
              args = ['rm', '--apply', target]
              break
            case 'prune':
              args = ['prune', '--keep-last', String(2 + Math.floor(random() * 3)), '--apply', '--json']
              break
            case 'maintenance':
              args = ['maintenance', '--grace', '0']
              break
            case 'sync':
              args = ['sync', 'to', mirror]
              break
            default:
              args = ['check']
          }
          f.operations++
          f.byOperation[op] = (f.byOperation[op] ?? 0) + 1
          const manifest = op === 'backup' ? await manifestOf(src) : undefined
          const faults = fault()
          if (faults) {
            proxy!.set(faults)
            f.faults++
            faultsSet++
            faulted = true
          }
          const faultsBefore = faultsSet
          const faultedAtStart = faulted
          const bytesBefore = proxy ? proxy.stats.bytesUp + proxy.stats.bytesDown : 0
          const child = client.run([...at, ...args], {timeout: 10 * 60_000}) as ResultPromise
          let killed = false
          if (random() < 0.25) {
            // kill -9 at a random moment: after a random amount of traffic where there is a
            // proxy (an event of the operation itself), else after a random share of a second.
            const threshold = Math.floor(random() * 3_000_000)
            const delay = Math.floor(random() * 1500)
            void (async () => {
              if (proxy) {
                while (child.exitCode === null && proxy.stats.bytesUp + proxy.stats.bytesDown - bytesBefore < threshold) await new Promise((r) => setImmediate(r))
              } else {
                await new Promise((r) => setTimeout(r, delay))
              }
              if (child.exitCode === null) {
                killed = child.kill('SIGKILL')
                if (killed) f.kills++
              }
            })()
          }
          const r = await child
          const sawFault = faultedAtStart || faultsSet !== faultsBefore
          if (proxy) {
            if (faults) {
              proxy.clear()
              faulted = false
            }
          }
          if (r.exitCode !== 0) {
            f.failedOperations++
            if (!killed && r.signal !== 'SIGKILL') {
              const bad = oneLine(r)
              if (bad) f.problems.push(`${op}: ${bad}`)
              // Without a fault an operation may only fail on a lock another client holds.
              if (!sawFault && !/lock/i.test(String(r.stderr))) f.problems.push(`${op} failed without a fault: ${String(r.stderr).trim().slice(0, 300)}`)
            }
            if (op === 'rm' && target) maybeRemoved.add(target)
            // Any snapshot may have gone; the verification finds out which.
            if (op === 'prune') for (const id of live) maybeRemoved.add(id)
            return
          }
          if (op === 'prune') for (const {id} of (JSON.parse(String(r.stdout)) as {remove: {id: string}[]}).remove) removed.add(id)
          // What the mirror lists must restore as it was backed up (a concurrent rm may have
          // taken a snapshot out of the sync's plan, so the listing, not the plan, decides).
          if (op === 'sync') for (const {id} of await client.jsonLines<{id: string}>(['at', mirror, 'ls'])) if (reported.has(id)) synced.add(id)
          if (op === 'backup') reported.set(String(JSON.parse(String(r.stdout)).id), manifest!)
          if (op === 'rm' && target) removed.add(target)
          if (op === 'restore' && out && target) {
            const wrong = sameManifest(reported.get(target)!, await manifestOf(out))
            if (wrong) {
              f.dataLost++
              f.problems.push(`restore of ${target.slice(0, 8)} under ${JSON.stringify(faults ?? {})} exited 0 with wrong data: ${wrong}`)
            }
          }
          if (out) await rm(out, {recursive: true, force: true})
        }

        for (let round = 0; round < ROUNDS; round++) {
          await mutate()
          for (let i = 0; i < OPS; ) {
            // Two clients at once, half of the time.
            if (random() < 0.5 && i + 1 < OPS) {
              await Promise.all([run(clients[0], weighted()), run(clients[1], weighted())])
              i += 2
            } else {
              await run(pick(clients), weighted())
              i++
            }
          }
          f.rounds++

          // Verification, on a healthy network, by a client that never saw the repository.
          proxy?.clear()
          const fresh = new Plakar(join(base, `verifier-${round}`), env)
          await mkdir(fresh.home, {recursive: true})
          const check = await fresh.run([...at, 'check'], {timeout: 30 * 60_000})
          if (check.exitCode !== 0) {
            f.corruptedRepositories++
            f.problems.push(`round ${round}: check exited ${check.exitCode}: ${String(check.stdout).slice(0, 400)} ${String(check.stderr).slice(0, 400)}`)
          }
          const listed = new Set((await fresh.jsonLines<{id: string}>([...at, 'ls'])).map((l) => l.id))
          for (const [id, manifest] of reported) {
            if (removed.has(id)) continue
            if (!listed.has(id)) {
              if (maybeRemoved.has(id)) {
                removed.add(id)
                continue
              }
              f.dataLost++
              f.problems.push(`round ${round}: snapshot ${id.slice(0, 8)} was reported by backup and is not listed`)
              continue
            }
            const out = join(base, `verify-${outputs++}`)
            const r = await fresh.run([...at, 'restore', '--to', out, id], {timeout: 30 * 60_000})
            const wrong = r.exitCode !== 0 ? `restore exited ${r.exitCode}: ${String(r.stderr).trim().slice(0, 300)}` : sameManifest(manifest, await manifestOf(out))
            if (wrong) {
              f.dataLost++
              f.problems.push(`round ${round}: snapshot ${id.slice(0, 8)}: ${wrong}`)
            }
            await rm(out, {recursive: true, force: true})
          }
          // The sync target: checked, and every snapshot a sync copied restores bit-exact.
          const mirrorCheck = await fresh.run(['at', mirror, 'check'], {timeout: 30 * 60_000})
          if (mirrorCheck.exitCode !== 0) {
            f.corruptedRepositories++
            f.problems.push(`round ${round}: check of the sync target exited ${mirrorCheck.exitCode}: ${String(mirrorCheck.stderr).slice(0, 400)}`)
          }
          for (const id of synced) {
            const out = join(base, `verify-${outputs++}`)
            const r = await fresh.run(['at', mirror, 'restore', '--to', out, id], {timeout: 30 * 60_000})
            const wrong = r.exitCode !== 0 ? `restore exited ${r.exitCode}: ${String(r.stderr).trim().slice(0, 300)}` : sameManifest(reported.get(id)!, await manifestOf(out))
            if (wrong) {
              f.dataLost++
              f.problems.push(`round ${round}: synced snapshot ${id.slice(0, 8)}: ${wrong}`)
            }
            await rm(out, {recursive: true, force: true})
          }
          await rm(join(base, `verifier-${round}`), {recursive: true, force: true})
        }
      } finally {
        f.flips = proxy?.stats.flips ?? 0
        await proxy?.close()
      }
      process.stdout.write(`robustness ${storage.name} seed=${SEED} ${JSON.stringify({...f, problems: f.problems})}\n`)
      expect(f.problems, `seed ${SEED}`).toEqual([])
      expect(f.corruptedRepositories).toBe(0)
      expect(f.dataLost).toBe(0)
    })
  }
})
