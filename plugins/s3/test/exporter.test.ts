import {testExporter, type ExportedEntry} from '@plakar/sdk/testing'
import {GetObjectCommand} from '@aws-sdk/client-s3'
import type {Readable} from 'node:stream'
import {beforeAll} from 'vitest'
import createExporter from '../src/exporter.js'
import {context, createBucket, describeS3, listObjects, rawClient, removePrefix, s3Location, uniqueName} from './s3.js'

describeS3('s3 exporter on radosgw', () => {
  const bucket = uniqueName('plakar-exporter')
  let n = 0
  beforeAll(() => createBucket(bucket))

  testExporter(
    's3 (radosgw)',
    async () => {
      const top = `dst-${++n}`
      const prefix = `${top}/restore`
      return {
        exporter: await createExporter(context(s3Location(bucket, prefix))),
        readBack: async (): Promise<ExportedEntry[]> =>
          (await listObjects(bucket, `${prefix}/`)).map((o) => {
            const path = o.key.slice(prefix.length + 1)
            if (path.endsWith('/')) return {path: path.slice(0, -1), type: 'directory'}
            return {
              path,
              type: 'file',
              content: async () => (await rawClient().send(new GetObjectCommand({Bucket: bucket, Key: o.key}))).Body as Readable,
            }
          }),
        // Everything of this test's top-level prefix that is not under the exporter's root.
        outside: async () => (await listObjects(bucket, `${top}`)).map((o) => o.key).filter((k) => !k.startsWith(`${prefix}/`)),
        cleanup: () => removePrefix(bucket, `${top}/`),
      }
    },
    {directories: false, mode: false, mtime: false, symlinks: false, hardlinks: false, newlineInNames: true},
  )
})
