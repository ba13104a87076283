import {fixtureContent, testImporter, type Fixture} from '@plakar/sdk/testing'
import {beforeAll} from 'vitest'
import createImporter from '../src/importer.js'
import {collectStream, context, createBucket, describeS3, putBytes, removePrefix, s3Location, uniqueName} from './s3.js'

describeS3('s3 importer on radosgw', () => {
  const bucket = uniqueName('plakar-importer')
  let n = 0
  beforeAll(() => createBucket(bucket))

  /** Files become objects under a fresh prefix; S3 has no directories, symlinks, modes or settable mtimes. */
  const materialize = async (fixture: Fixture, prefix: string) => {
    for (const entry of fixture.entries) {
      if (entry.type !== 'file') continue
      await putBytes(bucket, `${prefix}/${entry.path}`, await collectStream(fixtureContent(entry)))
    }
  }

  testImporter(
    's3 (radosgw)',
    async (fixture) => {
      const prefix = `src-${++n}/data`
      await materialize(fixture, prefix)
      return {importer: await createImporter(context(s3Location(bucket, prefix))), cleanup: () => removePrefix(bucket, `${prefix}/`)}
    },
    {directories: false, symlinks: false, mode: false, mtime: false, unreadable: false, newlineInNames: true},
  )
})
