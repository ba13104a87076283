// Benchmark (not a test): the resident memory of this process before, during and after one
// Argon2id derivation with the default parameters (64 MiB, 3 passes, 2 lanes), to see whether
// the derivation's memory is returned once the key is derived (issue 15).
//
//   npm run build && node test/bench/kdf-memory.mjs
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

const status = (field) => Math.round(Number(readFileSync('/proc/self/status', 'utf8').match(new RegExp(`${field}:\\s+(\\d+)`))[1]) / 1024)
const root = join(fileURLToPath(import.meta.url), '../../..')
const {deriveKeyFromPassphrase, defaultKdfParams} = await import(join(root, 'core/engine/dist/crypto/kdf.js'))
const before = status('VmRSS')
let during = before
const sampler = setInterval(() => (during = Math.max(during, status('VmRSS'))), 20)
await deriveKeyFromPassphrase(Buffer.from('a passphrase'), defaultKdfParams())
clearInterval(sampler)
console.log(`RSS before ${before} MiB, during the derivation up to ${during} MiB (peak ${status('VmHWM')}), after ${status('VmRSS')} MiB`)
