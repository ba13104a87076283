import {Readable} from 'node:stream'
import {
  ColdObjectError,
  PlakarError,
  RetainedObjectError,
  UsageError,
  type ColdStorage,
  type ConnectorContext,
  type Id,
  type Kind,
  type PutOptions,
  type Retention,
  type StorageCapabilities,
  type ThawRequestOutcome,
  type ThawSettings,
  type ThawStatus,
  type ThawTier,
  type WormStorage,
} from '@plakar/sdk'
import {BucketStorage, codeOf, isMissingObject, parseBucketLocation, putObject, S3Session, statusOf, type ObjectHead} from '@plakar/s3-client'
import {ARCHIVE_CLASSES, settingsFor, type GlacierConfig, type GlacierSettings} from './options.js'
import {defaultThawSettings, MINIMUM_DAYS, tiersFor} from './prices.js'

const DAY = 86_400_000

/** The `x-amz-restore` header: `ongoing-request="true"`, or `ongoing-request="false", expiry-date="…"`. */
export function parseRestoreHeader(value: string | undefined): {ongoing: boolean; expires?: number} | undefined {
  if (!value) return undefined
  const ongoing = /ongoing-request\s*=\s*"?(true|false)"?/i.exec(value)
  if (!ongoing) return undefined
  const expiry = /expiry-date\s*=\s*"([^"]+)"/i.exec(value)
  const expires = expiry ? Date.parse(expiry[1]) : Number.NaN
  return {ongoing: ongoing[1].toLowerCase() === 'true', expires: Number.isFinite(expires) ? expires : undefined}
}

/** Where an object stands, from its HEAD. */
export function thawStatusOf(head: Pick<ObjectHead, 'StorageClass' | 'Restore'>): ThawStatus {
  const storageClass = head.StorageClass ?? 'STANDARD'
  if (!ARCHIVE_CLASSES.has(storageClass)) return {state: 'hot', storageClass}
  const restore = parseRestoreHeader(head.Restore)
  if (!restore) return {state: 'archived', storageClass}
  if (restore.ongoing) return {state: 'in-progress', storageClass}
  return {state: 'available', storageClass, expires: restore.expires}
}

function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10)
}

/**
 * A repository in an S3 bucket whose file content is archived: the s3 layout (BucketStorage:
 * `CONFIG`, `packfiles/<2 hex>/<id>`, `states/<id>`, `locks/<id>`), with packfiles of file
 * content (`packfileKind: 'data'`) in a cold storage class and everything else — config,
 * states, locks, metadata packfiles — in a hot one, so that browsing never reads cold data.
 *
 * With `lock_mode`, the bucket must have S3 Object Lock, and every object but the repository
 * locks is stored under retention for `lock_days` (locks are deleted at the end of each command,
 * and hold no backup data). Deletions check retention, legal holds and the minimum storage
 * duration of cold classes first, and refuse with a {@link RetainedObjectError} instead of
 * deleting; allowed deletions remove every version of the key, so that nothing is left billed.
 */
export class GlacierStorage extends BucketStorage<GlacierSettings> implements ColdStorage, WormStorage {
  /** Whether the bucket has Object Lock (hence versioning): learnt by create() and open(). */
  #objectLock: boolean | undefined
  /** The server answered RestoreObject with 501: it keeps no archive, every object is readable. */
  #noArchive = false

  get #settings() {
    return this.session.settings
  }

  /** Reads the bucket's Object Lock configuration; refuses a bucket without it when a lock mode is asked. */
  async #checkObjectLock(): Promise<void> {
    if (this.#objectLock !== undefined) return
    const s = this.session
    let enabled = false
    try {
      const r = await s.call(
        `reading the Object Lock configuration of bucket "${s.bucket}"`,
        (c, sdk) => c.send(new sdk.GetObjectLockConfigurationCommand({Bucket: s.bucket})),
        {passthrough: (e) => codeOf(e) === 'ObjectLockConfigurationNotFoundError' || statusOf(e) === 404, missingBucketHint: this.openHint},
      )
      enabled = r.ObjectLockConfiguration?.ObjectLockEnabled === 'Enabled'
    } catch (error) {
      if (codeOf(error) === 'NoSuchBucket') throw s.translate(error, `reading bucket "${s.bucket}"`, 1, this.openHint)
      if (!(codeOf(error) === 'ObjectLockConfigurationNotFoundError' || statusOf(error) === 404)) throw error
    }
    if (this.#settings.lockMode && !enabled) {
      throw new UsageError(
        `bucket "${s.bucket}" at ${this.#settings.endpoint} has no Object Lock, so lock_mode=${this.#settings.lockMode} cannot protect anything: ` +
          'use a bucket created with Object Lock (plakar creates one when the bucket does not exist), or drop lock_mode',
      )
    }
    this.#objectLock = enabled
  }

  async create(config: Uint8Array): Promise<void> {
    await this.ensureBucket(this.#settings.lockMode !== undefined)
    await this.#checkObjectLock()
    await this.refuseUnlessEmpty()
    try {
      await this.#put(this.configKey, Readable.from([Buffer.from(config)]), config.length, `writing ${this.location}/CONFIG`, this.#settings.hotClass, true)
    } catch (error) {
      if (this.isAlreadyThere(error)) throw new PlakarError(`a repository already exists at ${this.location}`)
      throw error
    }
  }

  override async open(): Promise<Uint8Array> {
    await this.#checkObjectLock()
    return super.open()
  }

  /**
   * A PUT is atomic. The config stays in the hot class and gets the lock new objects get: on
   * a locked (versioned) bucket the old config stays as a locked older version.
   */
  async replaceConfig(config: Uint8Array): Promise<void> {
    await this.open()
    const {lockMode, lockDays, hotClass} = this.#settings
    await putObject(this.session, this.configKey, Readable.from([Buffer.from(config)]), {
      what: `writing ${this.location}/CONFIG`,
      size: config.length,
      storageClass: hotClass,
      createOnly: false,
      contentType: 'application/octet-stream',
      lock: lockMode ? {mode: lockMode, until: new Date(Date.now() + lockDays * DAY)} : undefined,
    })
  }

  /**
   * One object, never overwriting (If-None-Match: *): an id names fixed content, so an object
   * already there is this one (idempotent put), and under Object Lock nothing, not even the
   * plugin, replaces a locked object's bytes by a new version.
   */
  async #put(key: string, data: Readable, size: number, what: string, storageClass: string | undefined, locked: boolean, signal?: AbortSignal): Promise<void> {
    const {lockMode, lockDays} = this.#settings
    await putObject(this.session, key, data, {
      what,
      size,
      storageClass,
      createOnly: true,
      contentType: 'application/octet-stream',
      lock: locked && lockMode ? {mode: lockMode, until: new Date(Date.now() + lockDays * DAY)} : undefined,
      signal,
    })
  }

  async put(kind: Kind, id: Id, data: Readable, size: number, options?: PutOptions): Promise<void> {
    // Only packfiles the engine says hold file content go cold: a packfile without a kind (an
    // older engine) may hold metadata, which browsing must read at once.
    const cold = kind === 'packfile' && options?.packfileKind === 'data'
    if (this.#objectLock && kind !== 'lock') {
      // A bucket with Object Lock is versioned, and radosgw ignores If-None-Match there: a
      // second put would add a version (billed, and locked for as long). The id names fixed
      // content, so an object already there is this one.
      const exists = await this.stat(kind, id, options).then(
        () => true,
        (error) => {
          if ((error as {notFound?: boolean}).notFound) return false
          throw error
        },
      )
      if (exists) {
        data.destroy()
        return
      }
    }
    try {
      await this.#put(this.key(kind, id), data, size, `storing ${kind} ${id.slice(0, 16)}`, cold ? this.#settings.coldClass : this.#settings.hotClass, kind !== 'lock', options?.signal)
    } catch (error) {
      if (!this.isAlreadyThere(error)) throw error
      data.destroy()
    }
  }

  protected override unreadable(kind: Kind, id: Id, error: unknown): Error | undefined {
    if (codeOf(error) === 'InvalidObjectState') {
      return new ColdObjectError(`${kind} ${id.slice(0, 16)} is archived and not thawed: restore it first (plakar thaw)`, {cause: error})
    }
    return super.unreadable(kind, id, error)
  }

  #retentionOf(head: ObjectHead): Retention {
    const retention: Retention = {}
    const until = head.ObjectLockRetainUntilDate?.getTime()
    if (until !== undefined && Number.isFinite(until)) retention.until = until
    if (head.ObjectLockMode) retention.mode = head.ObjectLockMode
    if (head.ObjectLockLegalHoldStatus === 'ON') retention.legalHold = true
    const minimumDays = MINIMUM_DAYS[head.StorageClass ?? '']
    const written = head.LastModified?.getTime()
    if (minimumDays && written !== undefined) retention.minimumUntil = written + minimumDays * DAY
    return retention
  }

  async retention(kind: Kind, id: Id): Promise<Retention> {
    return this.#retentionOf(await this.head(kind, id, `reading the retention of ${kind} ${id.slice(0, 16)}`))
  }

  async delete(kind: Kind, id: Id): Promise<void> {
    const s = this.session
    const key = this.key(kind, id)
    let head: ObjectHead
    try {
      head = await this.head(kind, id, `checking ${kind} ${id.slice(0, 16)} before deleting it`)
    } catch (error) {
      if ((error as {notFound?: boolean}).notFound) return
      throw error
    }
    // Never ask the server to delete what it must refuse: say when it can go instead.
    const r = this.#retentionOf(head)
    const now = Date.now()
    const name = `${kind} ${id.slice(0, 16)}`
    if (r.legalHold) throw new RetainedObjectError(`${name} is under a legal hold: it cannot be deleted until the hold is lifted`)
    if (r.until !== undefined && r.until > now) {
      throw new RetainedObjectError(`${name} is locked (${r.mode ?? 'Object Lock'}) until ${day(r.until)}: kept`, {until: r.until})
    }
    if (r.minimumUntil !== undefined && r.minimumUntil > now && !this.#settings.earlyDelete) {
      throw new RetainedObjectError(
        `${name} is in ${head.StorageClass}, charged for at least ${MINIMUM_DAYS[head.StorageClass!]} days: kept until ${day(r.minimumUntil)} (early_delete=true deletes it now and pays the rest)`,
        {until: r.minimumUntil},
      )
    }
    await this.#checkObjectLock()
    if (!this.#objectLock) {
      await this.deleteKey(key, `deleting ${name}`)
      return
    }
    // A bucket with Object Lock is versioned: a plain DELETE would only add a delete marker and
    // keep (and bill) the bytes. Every version of the key and every marker goes.
    const versions = await s.call(`listing the versions of ${name}`, (c, sdk) => c.send(new sdk.ListObjectVersionsCommand({Bucket: s.bucket, Prefix: key})))
    const all = [...(versions.Versions ?? []), ...(versions.DeleteMarkers ?? [])].filter((v) => v.Key === key && v.VersionId)
    for (const v of all) {
      await s
        .call(`deleting ${name}`, (c, sdk) => c.send(new sdk.DeleteObjectCommand({Bucket: s.bucket, Key: key, VersionId: v.VersionId})), {
          passthrough: (e) => isMissingObject(e) || codeOf(e) === 'AccessDenied',
        })
        .catch((error) => {
          if (codeOf(error) === 'AccessDenied') throw new RetainedObjectError(`${name}: the server refused to delete a locked version (AccessDenied): kept`, {cause: error})
          if (!isMissingObject(error)) throw error
        })
    }
  }

  async extendRetention(kind: Kind, ids: Id[], until: number): Promise<void> {
    const s = this.session
    const mode = this.#settings.lockMode
    if (!mode) return
    await Promise.all(
      ids.map(async (id) => {
        const current = await this.retention(kind, id)
        if (current.until !== undefined && current.until >= until) return
        await s.call(`extending the retention of ${kind} ${id.slice(0, 16)}`, (c, sdk) =>
          c.send(
            new sdk.PutObjectRetentionCommand({
              Bucket: s.bucket,
              Key: this.key(kind, id),
              // COMPLIANCE stays COMPLIANCE (it cannot be weakened); a GOVERNANCE object keeps its mode.
              Retention: {Mode: (current.mode as 'COMPLIANCE' | 'GOVERNANCE' | undefined) ?? mode, RetainUntilDate: new Date(until)},
            }),
          ),
        )
      }),
    )
  }

  wormSettings(): {mode?: string; days: number} {
    return {mode: this.#settings.lockMode, days: this.#settings.lockDays}
  }

  async restoreStatus(kind: Kind, id: Id): Promise<ThawStatus> {
    const head = await this.head(kind, id, `reading the thaw status of ${kind} ${id.slice(0, 16)}`)
    const status = thawStatusOf(head)
    if (this.#noArchive && status.state === 'archived') return {state: 'hot', storageClass: status.storageClass}
    return status
  }

  async requestRestore(kind: Kind, ids: Id[], options: {days: number; tier: string}): Promise<ThawRequestOutcome[]> {
    const s = this.session
    return Promise.all(
      ids.map(async (id): Promise<ThawRequestOutcome> => {
        const status = await this.restoreStatus(kind, id)
        if (status.state !== 'archived') return {id, outcome: status.state}
        try {
          await s.call(
            `requesting a thaw of ${kind} ${id.slice(0, 16)}`,
            (c, sdk) =>
              c.send(
                new sdk.RestoreObjectCommand({
                  Bucket: s.bucket,
                  Key: this.key(kind, id),
                  RestoreRequest: {Days: options.days, GlacierJobParameters: {Tier: options.tier as 'Standard'}},
                }),
              ),
            {passthrough: (e) => codeOf(e) === 'RestoreAlreadyInProgress' || statusOf(e) === 409 || statusOf(e) === 501},
          )
          return {id, outcome: 'requested'}
        } catch (error) {
          if (codeOf(error) === 'RestoreAlreadyInProgress' || statusOf(error) === 409) return {id, outcome: 'in-progress'}
          if (statusOf(error) === 501) {
            // Ceph radosgw and other S3 servers accept archive classes as labels and serve them
            // directly: there is nothing to thaw.
            this.session.debug(`${this.#settings.endpoint} does not implement RestoreObject: its archive classes are readable as they are`)
            this.#noArchive = true
            return {id, outcome: 'hot'}
          }
          throw error
        }
      }),
    )
  }

  thawTiers(storageClass?: string): ThawTier[] {
    return tiersFor(storageClass ?? (this.#settings.coldClass === 'GLACIER_IR' ? 'GLACIER' : this.#settings.coldClass))
  }

  thawSettings(): ThawSettings {
    return defaultThawSettings(this.#settings)
  }

  capabilities(): StorageCapabilities {
    return {write: true, delete: true, cold: true, worm: this.#settings.lockMode !== undefined}
  }
}

export default async function createStorage(context: ConnectorContext): Promise<GlacierStorage> {
  const location = parseBucketLocation(context.location, 'glacier')
  return new GlacierStorage(await S3Session.open(location, settingsFor(location, context.config as GlacierConfig), context.logger))
}

/** Refuses a location the factory would refuse (credentials in it, no bucket), without connecting. */
export function checkLocation(location: string): void {
  parseBucketLocation(location, 'glacier')
}
