import {S3Session} from './dist/session.js'
import {parseS3Location} from './dist/location.js'
const bucket = process.argv[2]
const quiet = () => {}
const s = await S3Session.open(parseS3Location(`s3://${process.env.S3_ENDPOINT.replace('http://','')}/${bucket}`), {access_key: process.env.S3_ACCESS_KEY, secret_access_key: process.env.S3_SECRET_KEY, use_tls: false}, {debug: quiet, info: quiet, warn: quiet})
const l = await s.call('l', (c, sdk) => c.send(new sdk.ListObjectsV2Command({Bucket: bucket})))
let t = Date.now()
for (const o of l.Contents.slice(0, 50)) await s.call('h', (c, sdk) => c.send(new sdk.HeadObjectCommand({Bucket: bucket, Key: o.Key})))
console.log('50 sequential heads', Date.now() - t, 'ms')
t = Date.now()
await Promise.all(l.Contents.slice(50, 250).map(o => s.call('h', (c, sdk) => c.send(new sdk.HeadObjectCommand({Bucket: bucket, Key: o.Key})))))
console.log('200 parallel heads', Date.now() - t, 'ms')
s.close()
