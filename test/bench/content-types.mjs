// Benchmark (not a test): content typing as the chunking workers do it, alone. For every regular
// file of TREE, the measured build's typeFromName and needsContent, and sniffType on the first
// 4,100 bytes when the name leaves the type open; one thread, files from the page cache, read
// time excluded. Prints the total time and, per kind (extension, name's type, text or binary,
// the type found), the file count and time, most files first. Two builds' outputs diffed (first
// column of each line aside) show whether a change altered any type.
//
//   node test/bench/content-types.mjs [--root DIR] TREE [LINES]
//
// --root: the plakar checkout or frozen build whose core/engine/dist is measured (default this one).
import fs from 'node:fs'
import path from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

const args = process.argv.slice(2)
let root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
if (args[0] === '--root') root = path.resolve(args.splice(0, 2)[1])
const [tree, lines = '40'] = args
if (!tree) {
  console.error('usage: node test/bench/content-types.mjs [--root DIR] TREE [LINES]')
  process.exit(2)
}
const ct = await import(pathToFileURL(path.join(root, 'core/engine/dist/engine/content-type.js')).href)

const kinds = new Map()
let files = 0
let sniffed = 0
let total = 0
const head = Buffer.alloc(ct.SNIFF_BYTES)
async function walk(dir) {
  for (const entry of fs.readdirSync(dir, {withFileTypes: true})) {
    const file = path.join(dir, entry.name)
    if (entry.isDirectory()) await walk(file)
    if (!entry.isFile()) continue
    files++
    const guess = ct.typeFromName(file)
    if (!ct.needsContent(guess)) continue
    sniffed++
    const fd = fs.openSync(file, 'r')
    const n = fs.readSync(fd, head, 0, head.length, 0)
    fs.closeSync(fd)
    const sample = Buffer.from(head.subarray(0, n))
    const start = performance.now()
    const type = await ct.sniffType(file, guess, sample)
    const took = performance.now() - start
    total += took
    const key = [path.extname(file) || '(none)', guess, n > 0 && ct.looksLikeText(sample) ? 'text' : 'binary', type].join('\t')
    const kind = kinds.get(key) ?? {count: 0, ms: 0}
    kind.count++
    kind.ms += took
    kinds.set(key, kind)
  }
}
await walk(tree)
console.log(`${files} files, ${sniffed} sniffed, ${total.toFixed(0)} ms`)
for (const [key, {count, ms}] of [...kinds].sort((a, b) => b[1].count - a[1].count).slice(0, Number(lines))) {
  console.log(`${ms.toFixed(1)} ms\t${count}\t${key}`)
}
