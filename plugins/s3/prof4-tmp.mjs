import createImporter from './dist/importer.js'
const bucket = process.argv[2]
const quiet = () => {}
const ctx = {location: `s3://${process.env.S3_ENDPOINT.replace('http://','')}/${bucket}`, scheme: 's3', config: {access_key: process.env.S3_ACCESS_KEY, secret_access_key: process.env.S3_SECRET_KEY, use_tls: false}, logger: {debug: (m) => console.log(Date.now() % 100000, m), info: quiet, warn: quiet}, cacheDir: '/x'}
const imp = await createImporter(ctx)
let t = Date.now(); let n = 0
for await (const r of imp.scan({signal: new AbortController().signal})) { n++; if (n % 200 === 0) console.log(n, Date.now() - t) }
console.log('scan', n, Date.now() - t, 'ms')
await imp.close()
