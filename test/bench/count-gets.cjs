// Benchmark helper (not a test), preloaded with node -r: counts the HTTP requests a command makes
// and the ones with a Range header (a ranged GET) with their sizes; prints one line on stderr at
// exit. test/bench/s3-restore-ab.sh prints that line after each restore:
//   test/bench/s3-restore-ab.sh "node -r $PWD/test/bench/count-gets.cjs $A/bin/run.js"
const http = require('node:http')
const sizes = []
let requests = 0
const orig = http.request
const note = (value) => {
  const m = /bytes=(\d+)-(\d+)/.exec(String(value))
  if (m) sizes.push(Number(m[2]) - Number(m[1]) + 1)
}
http.request = function (...args) {
  requests++
  for (const a of args) {
    if (a && typeof a === 'object' && a.headers) for (const [k, v] of Object.entries(a.headers)) if (k.toLowerCase() === 'range') note(v)
  }
  const req = orig.apply(this, args)
  const setHeader = req.setHeader.bind(req)
  req.setHeader = (name, value) => {
    if (String(name).toLowerCase() === 'range') note(value)
    return setHeader(name, value)
  }
  return req
}
process.on('exit', () => {
  sizes.sort((a, b) => a - b)
  const total = sizes.reduce((a, b) => a + b, 0)
  process.stderr.write(`requests ${requests}, ranged GETs ${sizes.length}, under 1 MB ${sizes.filter((s) => s < 1e6).length}, median ${sizes[sizes.length >> 1]}, bytes ${total}\n`)
})
