import {Readable} from 'node:stream'
import {PlakarError, type CallOptions, type ConnectorContext, type Id, type Kind, type PutOptions, type Storage, type StorageCapabilities} from '@plakar/sdk'
import {BucketStorage, codeOf, putObject, statusOf} from '@plakar/s3-client'
import type {S3Settings} from './options.js'
import {openSession, parseS3Location} from './session.js'

/**
 * A repository under `bucket/prefix/`, in the layout of the fs storage (BucketStorage). S3
 * writes are atomic (a PutObject, or a multipart upload that becomes visible only when
 * completed) and an id names fixed content, so a put is atomic and idempotent as it is.
 */
export class S3Storage extends BucketStorage<S3Settings> implements Storage {
  async create(config: Uint8Array, options?: CallOptions): Promise<void> {
    await this.ensureBucket()
    await this.refuseUnlessEmpty()
    const put = (createOnly: boolean) =>
      putObject(this.session, this.configKey, Readable.from([Buffer.from(config)]), {
        what: `writing ${this.location}/CONFIG`,
        size: config.length,
        createOnly,
        contentType: 'application/octet-stream',
        signal: options?.signal,
      })
    try {
      await put(true)
    } catch (error) {
      if (this.isAlreadyThere(error)) throw new PlakarError(`a repository already exists at ${this.location}`)
      // Servers without conditional writes: the emptiness check above is the best there is.
      const cause = (error as {cause?: unknown}).cause ?? error
      if (codeOf(cause) === 'NotImplemented' || statusOf(cause) === 501) await put(false)
      else throw error
    }
  }

  /** A PUT is atomic on S3: a GET returns the old object or the new one, never a mix. */
  async replaceConfig(config: Uint8Array, options?: CallOptions): Promise<void> {
    await this.open(options)
    await putObject(this.session, this.configKey, Readable.from([Buffer.from(config)]), {
      what: `writing ${this.location}/CONFIG`,
      size: config.length,
      createOnly: false,
      contentType: 'application/octet-stream',
      signal: options?.signal,
    })
  }

  async put(kind: Kind, id: Id, data: Readable, size: number, options?: PutOptions): Promise<void> {
    await putObject(this.session, this.key(kind, id), data, {
      what: `storing ${kind} ${id.slice(0, 16)}`,
      size,
      storageClass: kind === 'packfile' ? this.session.settings.storageClass : undefined,
      contentType: 'application/octet-stream',
      signal: options?.signal,
    })
  }

  async delete(kind: Kind, id: Id, options?: CallOptions): Promise<void> {
    await this.deleteKey(this.key(kind, id), `deleting ${kind} ${id.slice(0, 16)}`, undefined, options?.signal)
  }

  capabilities(): StorageCapabilities {
    return {write: true, delete: true}
  }
}

export default async function createStorage(context: ConnectorContext): Promise<Storage> {
  return new S3Storage(await openSession(context))
}

/** Refuses a location the factory would refuse (credentials in it, no bucket), without connecting. */
export function checkLocation(location: string): void {
  parseS3Location(location)
}
