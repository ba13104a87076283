import createImporter from './dist/importer.js'
const bucket = process.argv[2]
const quiet = () => {}
const ctx = {location: `s3://${process.env.S3_ENDPOINT.replace('http://','')}/${bucket}`, scheme: 's3', config: {access_key: process.env.S3_ACCESS_KEY, secret_access_key: process.env.S3_SECRET_KEY, use_tls: false}, logger: {debug: quiet, info: quiet, warn: quiet}, cacheDir: '/x'}
const imp = await createImporter(ctx)
let t = Date.now(); let n = 0; const recs = []
for await (const r of imp.scan({signal: new AbortController().signal})) { n++; if (r.open) recs.push(r) }
console.log('scan', n, Date.now() - t, 'ms')
t = Date.now(); let bytes = 0
let i = 0
await Promise.all(Array.from({length: 8}, async () => { while (i < recs.length) { const r = recs[i++]; for await (const c of await r.open()) bytes += c.length } }))
console.log('read', bytes, Date.now() - t, 'ms')
await imp.close()
