import {S3Client, HeadObjectCommand, ListObjectsV2Command} from '@aws-sdk/client-s3'
import http from 'node:http'
const bucket = process.argv[2]
const c = new S3Client({endpoint: process.env.S3_ENDPOINT, region: 'us-east-1', forcePathStyle: true, credentials: {accessKeyId: process.env.S3_ACCESS_KEY, secretAccessKey: process.env.S3_SECRET_KEY}, requestHandler: {httpAgent: new http.Agent({keepAlive: true, maxSockets: 32})}})
let t = Date.now()
const l = await c.send(new ListObjectsV2Command({Bucket: bucket}))
console.log('list page', l.Contents.length, Date.now() - t, 'ms')
t = Date.now()
for (const o of l.Contents.slice(0, 50)) await c.send(new HeadObjectCommand({Bucket: bucket, Key: o.Key}))
console.log('50 sequential heads', Date.now() - t, 'ms')
t = Date.now()
await Promise.all(l.Contents.slice(50, 250).map(o => c.send(new HeadObjectCommand({Bucket: bucket, Key: o.Key}))))
console.log('200 parallel heads', Date.now() - t, 'ms')
