import {randomBytes} from 'node:crypto'
import {Readable} from 'node:stream'
import {describe, expect, it, type TestContext} from 'vitest'
import {isColdStorage, KINDS} from '../contract.js'
import {isFatal} from '../errors.js'
import type {Kind, Storage} from '../interfaces/storage.js'
import {describeError, expectFailure, expectNotFound, MiB, sleep, withFixture, type SetupContext} from './common.js'
import {collect, digestStream, mapLimit, pseudoRandomBytes, pseudoRandomDigest, pseudoRandomStream, randomId} from './data.js'

/** What a storage suite's `setup` returns: a storage over a fresh, empty location. */
export interface StorageFixture {
  /**
   * A storage whose location holds nothing yet: no repository config, no objects. The suite
   * calls `create()` on it itself (most tests start with `create()`, one checks `open()` on the
   * empty location), and `close()` when the test is done.
   */
  storage: Storage
  /** Removes whatever the test left behind (temp dir, bucket prefix…). Called after `close()`. */
  cleanup?: () => Promise<void>
  /**
   * Optional: another, independent storage over the same location, as a second process would
   * open it. When given, the suite checks that what one instance writes the other sees (config,
   * objects, deletions), both ways. The suite closes what it returns.
   */
  reopen?: () => Promise<Storage>
  /**
   * Optional, for storages with an endpoint: a storage of the same connector over a location
   * whose server does not answer (a closed port). The suite checks that it gives up the way
   * every storage does: each call fails with an error marked fatal (`markFatal`), not a
   * not-found. Without it, that test is reported as skipped.
   */
  unreachable?: () => Promise<Storage>
}

/** Sizes and limits of {@link testStorage}. The defaults are what first-party storages must pass. */
export interface StorageSuiteOptions {
  /** Size of the object of the large-object test, in bytes. Default 64 MiB. */
  largeObjectSize?: number
  /** Number of puts in flight at once in the concurrency test. Default 48. */
  concurrentPuts?: number
  /** Number of objects in the large-listing test. Default 3000. */
  listingCount?: number
  /** Puts in flight while filling the large listing. Default 32. */
  listingConcurrency?: number
  /** Timeout of each ordinary test, in ms. Default 60 s. */
  timeout?: number
  /** Timeout of the large-object, concurrency and listing tests, in ms. Default 10 min. */
  slowTimeout?: number
}

const DEFAULTS: Required<StorageSuiteOptions> = {
  largeObjectSize: 64 * MiB,
  concurrentPuts: 48,
  listingCount: 3000,
  listingConcurrency: 32,
  timeout: 60_000,
  slowTimeout: 600_000,
}

/** Storages a test closed itself: the fixture's disposal does not close them again. */
const closedByTest = new WeakSet<Storage>()

type Body = (storage: Storage, context: TestContext, fixture: StorageFixture) => Promise<void>

function bytesStream(data: Uint8Array): Readable {
  return Readable.from(data.length === 0 ? [] : [Buffer.from(data)], {objectMode: false})
}

async function put(storage: Storage, kind: Kind, id: string, data: Uint8Array): Promise<void> {
  await storage.put(kind, id, bytesStream(data), data.length)
}

async function read(storage: Storage, kind: Kind, id: string, range?: {offset: number; length: number}): Promise<Buffer> {
  return collect(await storage.get(kind, id, range))
}

async function listAll(storage: Storage, kind: Kind): Promise<string[]> {
  const ids: string[] = []
  for await (const id of storage.list(kind)) ids.push(id)
  return ids
}

function sorted(ids: Iterable<string>): string[] {
  return [...ids].sort()
}

/** Compares buffers without printing megabytes on failure. */
function expectSameBytes(actual: Buffer, expected: Uint8Array, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length)
  if (!actual.equals(expected)) {
    let i = 0
    while (actual[i] === expected[i]) i++
    expect.fail(`${what}: bytes differ from offset ${i}`)
  }
}

/**
 * The storage conformance suite. Call it at the top level of a test file of your plugin:
 *
 * ```ts
 * import {testStorage} from '@plakar/sdk/testing'
 *
 * testStorage('my-storage', async () => {
 *   const dir = await mkdtemp(join(tmpdir(), 'my-storage-'))
 *   return {storage: new MyStorage(join(dir, 'repo')), cleanup: () => rm(dir, {recursive: true, force: true})}
 * })
 * ```
 *
 * Each test calls `setup` for a storage over a fresh empty location, `create()`s a repository
 * there with a random config (except the test of `open()` on an empty location), exercises the
 * contract of {@link Storage}, then `close()`s the storage and calls the fixture's `cleanup`.
 * Object ids are random 64-digit lowercase hex strings, like the engine's. Every failure names
 * the broken rule.
 *
 * What it checks: the config (`open()` of an empty location is a not-found error, `create()`
 * then `open()` returns the bytes, a second `create()` fails); objects of every kind (put/get
 * round trip, empty objects, `stat`, range reads at the start, middle and end, zero-length
 * ranges, ranges past the end refused); missing objects (`get`/`stat` → not-found, `delete` →
 * no error); `list` per kind (kinds are separate, ids appear after `put`, vanish after `delete`,
 * each once); idempotent put (twice in a row and twice at once); atomic put (an object is
 * invisible while its put runs, and a put whose source fails or ends short leaves no object and
 * nothing visible in `list`); a large object (64 MiB by default) streamed in and out — the suite
 * itself never holds more than a few MiB of it; dozens of concurrent puts; a listing of
 * thousands of objects (3000 by default, beyond one page of S3's ListObjectsV2); `capabilities()`
 * and `close()`.
 *
 * Errors are recognised structurally, with the SDK's `isNotFound()` (an error with
 * `notFound === true` or `code === 'ENOENT'`), so a plugin with its own copy of `@plakar/sdk`
 * passes too. A not-found error may come from `get()` itself or from the stream it returns.
 *
 * With a fixture's optional `reopen()`, a second storage over the same location must see what the
 * first wrote and the other way round (persistence, no per-instance caching that hides writes).
 *
 * Delete tests are skipped (reported as skipped) when `capabilities().delete` is false.
 *
 * @param name shown in the suite's title: "storage conformance: <name>"
 * @param setup makes a fresh empty storage for one test; see {@link StorageFixture}
 * @param options sizes and timeouts; the defaults are the bar first-party storages meet. A remote
 *   backend may lower `largeObjectSize` for quick local loops, but should pass the defaults in CI.
 */
export function testStorage(
  name: string,
  setup: (context: SetupContext) => Promise<StorageFixture>,
  options: StorageSuiteOptions = {},
): void {
  const o = {...DEFAULTS, ...options}

  const run = (title: string, body: Body, settings: {create?: boolean; slow?: boolean} = {}) =>
    it(title, {timeout: settings.slow ? o.slowTimeout : o.timeout}, async (context) => {
      await withFixture(
        () => setup({testName: title}),
        async (fixture) => {
          if (!closedByTest.has(fixture.storage)) await fixture.storage.close()
          await fixture.cleanup?.()
        },
        async (fixture) => {
          const {storage} = fixture
          if (settings.create !== false) await storage.create(randomBytes(512))
          await body(storage, context, fixture)
        },
      )
    })

  const requireDelete = (storage: Storage, context: TestContext) => {
    if (!storage.capabilities().delete) context.skip('this storage does not delete objects')
  }

  describe(`storage conformance: ${name}`, () => {
    describe('repository config', () => {
      run(
        'open() on an empty location fails with a not-found error',
        async (storage) => {
          await expectNotFound('open() before create()', () => storage.open())
        },
        {create: false},
      )

      run(
        'create() then open() returns the exact bytes',
        async (storage) => {
          const config = randomBytes(1000)
          await storage.create(config)
          const opened = await storage.open()
          expectSameBytes(Buffer.from(opened), config, 'open() after create()')
          // A second open() gives the same bytes again.
          expectSameBytes(Buffer.from(await storage.open()), config, 'second open()')
        },
        {create: false},
      )

      run(
        'create() on an existing repository fails and keeps the first config',
        async (storage) => {
          const first = randomBytes(300)
          await storage.create(first)
          await expectFailure('a second create()', () => storage.create(randomBytes(300)))
          expectSameBytes(Buffer.from(await storage.open()), first, 'open() after a refused create()')
        },
        {create: false},
      )
    })

    describe('config replacement', () => {
      run(
        'replaceConfig() on an empty location fails with a not-found error and creates no repository',
        async (storage) => {
          await expectNotFound('replaceConfig() before create()', () => storage.replaceConfig(randomBytes(300)))
          await expectNotFound('open() after a refused replaceConfig()', () => storage.open())
        },
        {create: false},
      )

      run(
        'replaceConfig() swaps the config for one of the same size, and of another size, and leaves no object behind',
        async (storage, _context, fixture) => {
          const first = randomBytes(600)
          await storage.create(first)
          // A passphrase change gives a config of exactly the old size: a storage that skips a
          // write whose size matches what is there (an idempotent put) must not skip this one.
          const second = Buffer.from(first)
          second[0] ^= 1
          second[599] ^= 0x80
          await storage.replaceConfig(second)
          expectSameBytes(Buffer.from(await storage.open()), second, 'open() after replaceConfig() with the same size')
          const third = randomBytes(900)
          await storage.replaceConfig(third)
          expectSameBytes(Buffer.from(await storage.open()), third, 'open() after replaceConfig() with another size')
          for (const kind of KINDS) expect(await listAll(storage, kind), `list(${kind}) after replaceConfig()`).toEqual([])
          if (fixture.reopen) {
            const other = await fixture.reopen()
            try {
              expectSameBytes(Buffer.from(await other.open()), third, 'open() through a second storage after replaceConfig()')
              await other.replaceConfig(first)
            } finally {
              await other.close()
            }
            expectSameBytes(Buffer.from(await storage.open()), first, 'open() after a second storage replaced the config')
          }
        },
        {create: false},
      )

      run('replaceConfig() calls in a row: open() always returns one whole config', async (storage) => {
        const configs = Array.from({length: 6}, () => randomBytes(512))
        await storage.replaceConfig(configs[0])
        // Readers beside a replacement see the old config or the new one, nothing else.
        for (let i = 1; i < configs.length; i++) {
          const [opened] = await Promise.all([storage.open(), storage.replaceConfig(configs[i])])
          const ok = Buffer.from(opened).equals(configs[i - 1]) || Buffer.from(opened).equals(configs[i])
          expect(ok, `open() beside replaceConfig() #${i} returned neither the old nor the new config`).toBe(true)
        }
        expectSameBytes(Buffer.from(await storage.open()), configs.at(-1)!, 'open() after the last replaceConfig()')
      })
    })

    describe('objects', () => {
      run('put then get returns the bytes, for every kind and for empty and tiny objects', async (storage) => {
        for (const kind of KINDS) {
          for (const size of [0, 1, 17, 4096, 300_001]) {
            const id = randomId()
            const data = randomBytes(size)
            await put(storage, kind, id, data)
            expectSameBytes(await read(storage, kind, id), data, `${kind} of ${size} bytes`)
          }
        }
      })

      run('get() returns a stream that can be read in pieces', async (storage) => {
        const id = randomId()
        const data = pseudoRandomBytes(id, 0, 3 * MiB + 5)
        await put(storage, 'packfile', id, data)
        const stream = await storage.get('packfile', id)
        expect(typeof (stream as Readable)[Symbol.asyncIterator], 'get() must return a Readable').toBe('function')
        expectSameBytes(await collect(stream), data, 'packfile of 3 MiB')
      })

      run('readInto(), where the storage has it, fills exactly the object or a window of it, in plain or shared memory', async (storage, context) => {
        // Optional: without it, this test is reported as skipped, not passed.
        if (!storage.readInto) return context.skip('this storage has no readInto()')
        for (const size of [0, 1, 5 * MiB + 3]) {
          const id = randomId()
          const data = pseudoRandomBytes(id, 0, size)
          await put(storage, 'packfile', id, data)
          const plain = Buffer.alloc(size)
          await storage.readInto('packfile', id, plain)
          expectSameBytes(plain, data, `readInto() of a ${size}-byte object`)
          const shared = Buffer.from(new SharedArrayBuffer(size + 7), 0, size)
          await storage.readInto('packfile', id, shared)
          expectSameBytes(Buffer.from(shared), data, `readInto() of a ${size}-byte object into shared memory`)
          // A window of the object, up to its very end.
          const offset = Math.floor(size / 3)
          for (const length of [Math.min(2 * MiB, size - offset), size - offset]) {
            const window = Buffer.from(new SharedArrayBuffer(length + 5), 0, length)
            await storage.readInto('packfile', id, window, {offset})
            expectSameBytes(Buffer.from(window), data.subarray(offset, offset + length), `readInto() of ${length} bytes at ${offset} of a ${size}-byte object`)
          }
        }
        const id = randomId()
        await put(storage, 'packfile', id, randomBytes(1000))
        // A size other than the object's is an error, never a partly filled buffer taken as whole.
        for (const size of [999, 1001]) {
          const error = await storage.readInto('packfile', id, Buffer.alloc(size)).then(
            () => undefined,
            (e: unknown) => e,
          )
          expect((error as {code?: string} | undefined)?.code, `readInto() of a 1000-byte object into ${size} bytes`).toBe('ESHORTREAD')
        }
        // A window running past the end is an error too.
        const error = await storage.readInto('packfile', id, Buffer.alloc(100), {offset: 901}).then(
          () => undefined,
          (e: unknown) => e,
        )
        expect((error as {code?: string} | undefined)?.code, 'readInto() of 100 bytes at 901 of a 1000-byte object').toBe('ESHORTREAD')
        await expectNotFound('readInto() of a missing object', () => storage.readInto!('packfile', randomId(), Buffer.alloc(10)))
      })

      run('stat() gives the size of an object', async (storage) => {
        for (const size of [0, 1, 123_457]) {
          const id = randomId()
          await put(storage, 'packfile', id, randomBytes(size))
          expect((await storage.stat('packfile', id)).size, `stat() of a ${size}-byte object`).toBe(size)
        }
      })

      run('range get: start, middle, end, whole, zero-length', async (storage) => {
        const id = randomId()
        const size = 100_000
        const data = pseudoRandomBytes(id, 0, size)
        await put(storage, 'packfile', id, data)
        const ranges = [
          {offset: 0, length: 1},
          {offset: 0, length: 4096},
          {offset: 1, length: 1},
          {offset: 12_345, length: 54_321},
          {offset: size - 4096, length: 4096},
          {offset: size - 1, length: 1},
          {offset: 0, length: size},
          {offset: 500, length: 0},
          {offset: 0, length: 0},
          {offset: size, length: 0},
        ]
        for (const range of ranges) {
          const got = await read(storage, 'packfile', id, range)
          expectSameBytes(got, data.subarray(range.offset, range.offset + range.length), `range ${range.offset}+${range.length}`)
        }
      })

      run('range get past the end is an error', async (storage) => {
        const id = randomId()
        const size = 10_000
        await put(storage, 'packfile', id, randomBytes(size))
        for (const range of [
          {offset: size - 5, length: 10},
          {offset: 0, length: size + 1},
          {offset: size, length: 1},
          {offset: size + 100, length: 10},
          {offset: size + 1, length: 0},
        ]) {
          await expectFailure(`range ${range.offset}+${range.length} of a ${size}-byte object`, () => read(storage, 'packfile', id, range))
        }
      })

      run('get() and stat() of a missing object fail with a not-found error', async (storage) => {
        for (const kind of KINDS) {
          const id = randomId()
          await expectNotFound(`get(${kind}) of a missing object`, () => read(storage, kind, id))
          await expectNotFound(`ranged get(${kind}) of a missing object`, () => read(storage, kind, id, {offset: 0, length: 1}))
          await expectNotFound(`stat(${kind}) of a missing object`, () => storage.stat(kind, id))
        }
        // Present in one kind is not present in another.
        const id = randomId()
        await put(storage, 'state', id, randomBytes(10))
        await expectNotFound('get(packfile) of an id stored as a state', () => read(storage, 'packfile', id))
      })

      run('delete() of a missing object is not an error', async (storage, context) => {
        requireDelete(storage, context)
        for (const kind of KINDS) await storage.delete(kind, randomId())
      })

      run('locks are deletable, even on a storage that deletes nothing else', async (storage) => {
        // Writers release their locks by deleting them: an append-only storage must allow that.
        const id = randomId()
        await put(storage, 'lock', id, randomBytes(100))
        await storage.delete('lock', id)
        await expectNotFound('get(lock) after delete()', () => read(storage, 'lock', id))
        expect(await listAll(storage, 'lock'), 'list(lock) after delete()').toEqual([])
      })

      run('delete() removes the object: get and stat fail with not-found, list omits it', async (storage, context) => {
        requireDelete(storage, context)
        for (const kind of KINDS) {
          const keep = randomId()
          const gone = randomId()
          await put(storage, kind, keep, randomBytes(100))
          await put(storage, kind, gone, randomBytes(100))
          await storage.delete(kind, gone)
          await expectNotFound(`get(${kind}) after delete()`, () => read(storage, kind, gone))
          await expectNotFound(`stat(${kind}) after delete()`, () => storage.stat(kind, gone))
          expect(sorted(await listAll(storage, kind)), `list(${kind}) after delete()`).toEqual([keep])
          // Deleting twice is fine too.
          await storage.delete(kind, gone)
        }
      })
    })

    describe('list', () => {
      run('an empty repository lists nothing', async (storage) => {
        for (const kind of KINDS) expect(await listAll(storage, kind), `list(${kind}) of a new repository`).toEqual([])
      })

      run('ids appear after put, each once, and vanish after delete', async (storage) => {
        // Ids spread over first hex digits: storages that shard by prefix see several shards.
        const ids = Array.from({length: 20}, (_, i) => i.toString(16).padStart(2, '0') + randomId().slice(2))
        for (const id of ids) await put(storage, 'packfile', id, randomBytes(50))
        const listed = await listAll(storage, 'packfile')
        expect(listed.length, 'list(packfile) must yield each id once').toBe(new Set(listed).size)
        expect(sorted(listed)).toEqual(sorted(ids))
        if (storage.listWithSizes) {
          // Sizes as stored (50 bytes each), one entry per id: backup finds truncated packfiles with them.
          const withSizes: {id: string; size: number}[] = []
          for await (const entry of storage.listWithSizes('packfile')) withSizes.push(entry)
          expect(withSizes.map((e) => e.id).sort(), 'listWithSizes(packfile) lists what list does').toEqual(sorted(ids))
          expect(new Set(withSizes.map((e) => e.size)), 'listWithSizes(packfile) gives each object its size').toEqual(new Set([50]))
        }
        if (storage.capabilities().delete) {
          for (const id of ids.slice(0, 7)) await storage.delete('packfile', id)
          expect(sorted(await listAll(storage, 'packfile')), 'list(packfile) after deleting 7').toEqual(sorted(ids.slice(7)))
        }
      })

      run('kinds are separate namespaces', async (storage) => {
        const id = randomId()
        const contents = new Map(KINDS.map((kind) => [kind, randomBytes(64)]))
        for (const kind of KINDS) await put(storage, kind, id, contents.get(kind)!)
        const only = randomId()
        await put(storage, 'state', only, randomBytes(64))
        for (const kind of KINDS) {
          expectSameBytes(await read(storage, kind, id), contents.get(kind)!, `get(${kind}) of an id present in every kind`)
          const listed = sorted(await listAll(storage, kind))
          expect(listed, `list(${kind})`).toEqual(kind === 'state' ? sorted([id, only]) : [id])
        }
        if (storage.capabilities().delete) {
          await storage.delete('packfile', id)
          await expectNotFound('get(packfile) after its delete()', () => read(storage, 'packfile', id))
          expectSameBytes(await read(storage, 'state', id), contents.get('state')!, 'the state with the id of a deleted packfile')
          expectSameBytes(await read(storage, 'lock', id), contents.get('lock')!, 'the lock with the id of a deleted packfile')
        }
      })

      run(
        `a listing of thousands of objects (${o.listingCount}) is complete`,
        async (storage) => {
          const ids = Array.from({length: o.listingCount}, () => randomId())
          await mapLimit(ids, o.listingConcurrency, (id) => put(storage, 'state', id, Buffer.from(id)))
          const listed = await listAll(storage, 'state')
          expect(listed.length, `list(state) after ${ids.length} puts`).toBe(ids.length)
          expect(new Set(listed).size, 'list(state) must yield each id once').toBe(ids.length)
          const want = new Set(ids)
          const extra = listed.filter((id) => !want.has(id))
          expect(extra, 'list(state) yielded ids that were never put').toEqual([])
          expect(await listAll(storage, 'packfile'), 'list(packfile) while only states exist').toEqual([])
        },
        {slow: true},
      )
    })

    describe('put semantics', () => {
      run('put is idempotent: the same id twice in a row', async (storage) => {
        for (const kind of KINDS) {
          const id = randomId()
          const data = randomBytes(20_000)
          await put(storage, kind, id, data)
          await put(storage, kind, id, data)
          expectSameBytes(await read(storage, kind, id), data, `${kind} put twice`)
          expect(await listAll(storage, kind), `list(${kind}) after the same put twice`).toEqual([id])
        }
      })

      run('put is idempotent: the same id twice at once', async (storage) => {
        const id = randomId()
        const data = pseudoRandomBytes(id, 0, 2 * MiB)
        await Promise.all([put(storage, 'packfile', id, data), put(storage, 'packfile', id, data)])
        expectSameBytes(await read(storage, 'packfile', id), data, 'packfile put twice at once')
        expect(await listAll(storage, 'packfile'), 'list(packfile) after two simultaneous puts').toEqual([id])
      })

      run('an object is invisible while its put is in progress', async (storage) => {
        const id = randomId()
        const data = pseudoRandomBytes(id, 0, 512 * 1024)
        let signalPulled!: () => void
        const pulled = new Promise<void>((resolve) => (signalPulled = resolve))
        let release!: () => void
        const gate = new Promise<void>((resolve) => (release = resolve))
        const source = Readable.from(
          (async function* () {
            yield data.subarray(0, 256 * 1024)
            signalPulled()
            await gate
            yield data.subarray(256 * 1024)
          })(),
          {objectMode: false},
        )
        const putting = storage.put('packfile', id, source, data.length)
        putting.catch(() => {}) // awaited below; avoid an unhandled rejection meanwhile
        try {
          await Promise.race([pulled, sleep(5000)])
          await sleep(100)
          await expectNotFound('stat() of an object whose put is in progress', () => storage.stat('packfile', id))
          await expectNotFound('get() of an object whose put is in progress', () => read(storage, 'packfile', id))
          expect(await listAll(storage, 'packfile'), 'list(packfile) while a put is in progress').toEqual([])
        } finally {
          release()
        }
        await putting
        expectSameBytes(await read(storage, 'packfile', id), data, 'the object once its put completed')
      })

      run('a put whose source fails midway leaves no object and nothing in list', async (storage) => {
        for (const kind of KINDS) {
          const id = randomId()
          const good = pseudoRandomBytes(id, 0, MiB)
          const source = Readable.from(
            (async function* () {
              yield good
              await sleep(20)
              throw new Error('source failed on purpose')
            })(),
            {objectMode: false},
          )
          const error = await expectFailure(`put(${kind}) from a failing source`, () => storage.put(kind, id, source, 2 * MiB))
          expect(describeError(error)).toBeTruthy()
          await expectNotFound(`stat(${kind}) after a failed put`, () => storage.stat(kind, id))
          await expectNotFound(`get(${kind}) after a failed put`, () => read(storage, kind, id))
          expect(await listAll(storage, kind), `list(${kind}) after a failed put (temporary objects must not show)`).toEqual([])
          // The id is not poisoned: the next put of it succeeds.
          const data = randomBytes(1000)
          await put(storage, kind, id, data)
          expectSameBytes(await read(storage, kind, id), data, `${kind} put again after a failed put`)
        }
      })

      run('a put whose source ends short of its size fails and leaves no object', async (storage) => {
        const id = randomId()
        const data = randomBytes(10_000)
        await expectFailure('put() of 10000 bytes declared as 20000', () => storage.put('packfile', id, bytesStream(data), 20_000))
        await expectNotFound('stat() after a short put', () => storage.stat('packfile', id))
        expect(await listAll(storage, 'packfile'), 'list(packfile) after a short put').toEqual([])
      })

      run(
        `concurrent puts (${o.concurrentPuts} at once) all land intact`,
        async (storage) => {
          const ids = Array.from({length: o.concurrentPuts}, () => randomId())
          const size = (i: number) => 64 * 1024 + i * 1013
          await Promise.all(ids.map((id, i) => storage.put('packfile', id, pseudoRandomStream(id, size(i), {chunkSize: 16 * 1024}), size(i))))
          expect(sorted(await listAll(storage, 'packfile')), 'list(packfile) after concurrent puts').toEqual(sorted(ids))
          await mapLimit(ids, 8, async (id, i) => {
            expectSameBytes(await read(storage, 'packfile', id), pseudoRandomBytes(id, 0, size(i)), `concurrent put #${i}`)
          })
        },
        {slow: true},
      )

      run(
        `a large object (${o.largeObjectSize} bytes) is streamed in and out`,
        async (storage) => {
          const size = o.largeObjectSize
          const id = randomId()
          await storage.put('packfile', id, pseudoRandomStream(id, size), size)
          expect((await storage.stat('packfile', id)).size, 'stat() of the large object').toBe(size)
          const expected = await pseudoRandomDigest(id, size)
          const got = await digestStream(await storage.get('packfile', id))
          expect(got.size, 'bytes read back').toBe(size)
          expect(got.sha256, 'SHA-256 of the bytes read back').toBe(expected.sha256)
          const length = Math.min(size, MiB + 3)
          for (const offset of [0, Math.floor((size - length) / 2), size - length, size - 1]) {
            const range = {offset, length: Math.min(length, size - offset)}
            expectSameBytes(await read(storage, 'packfile', id, range), pseudoRandomBytes(id, offset, range.length), `large object range ${offset}+${range.length}`)
          }
        },
        {slow: true},
      )
    })

    describe('persistence', () => {
      run(
        'a second storage over the same location sees what the first wrote, both ways',
        async (first, context, fixture) => {
          if (!fixture.reopen) context.skip('the fixture has no reopen()')
          const config = randomBytes(700)
          await first.create(config)
          const a = randomId()
          const dataA = randomBytes(5000)
          await put(first, 'packfile', a, dataA)
          await put(first, 'state', a, randomBytes(10))
          const second = await fixture.reopen!()
          try {
            expectSameBytes(Buffer.from(await second.open()), config, 'open() through the second storage')
            expectSameBytes(await read(second, 'packfile', a), dataA, 'an object put through the first storage')
            expect(await listAll(second, 'packfile'), 'list(packfile) through the second storage').toEqual([a])
            const b = randomId()
            const dataB = randomBytes(3000)
            await put(second, 'packfile', b, dataB)
            expectSameBytes(await read(first, 'packfile', b, {offset: 1000, length: 1000}), dataB.subarray(1000, 2000), 'an object put through the second storage')
            expect(sorted(await listAll(first, 'packfile')), 'list(packfile) through the first storage').toEqual(sorted([a, b]))
            if (first.capabilities().delete) {
              await second.delete('packfile', a)
              await expectNotFound('get() of an object the other storage deleted', () => read(first, 'packfile', a))
              expect(await listAll(first, 'packfile'), 'list(packfile) after the other storage deleted one').toEqual([b])
            }
            await expectFailure('create() through the second storage', () => second.create(randomBytes(10)))
          } finally {
            await second.close()
          }
        },
        {create: false},
      )
    })

    describe('giving up', () => {
      run('a storage that gives up is fatal: every call to an unreachable endpoint fails with a fatal error', async (_storage, context, fixture) => {
        if (!fixture.unreachable) return context.skip('the fixture gives no unreachable storage (a storage without an endpoint)')
        const gone = await fixture.unreachable()
        try {
          const id = randomId()
          const calls: [string, () => Promise<unknown>][] = [
            ['open()', () => gone.open()],
            ['stat()', () => gone.stat('state', id)],
            ['get()', async () => collect(await gone.get('packfile', id))],
            ['list()', () => listAll(gone, 'state')],
            ['put()', () => gone.put('lock', id, bytesStream(randomBytes(10)), 10)],
          ]
          for (const [what, call] of calls) {
            const error = await expectFailure(`${what} on an unreachable endpoint`, call)
            expect(isFatal(error), `${what} on an unreachable endpoint fails with a fatal error (got: ${describeError(error)})`).toBe(true)
          }
        } finally {
          await gone.close().catch(() => {})
        }
      })
    })

    describe('cancellation', () => {
      run('a call whose signal is already aborted fails and stores nothing', async (storage) => {
        const signal = AbortSignal.abort()
        const id = randomId()
        await expectFailure('put() with an aborted signal', () => storage.put('packfile', id, bytesStream(randomBytes(1000)), 1000, {signal}))
        await expectFailure('stat() with an aborted signal', () => storage.stat('packfile', id, {signal}))
        await expectFailure('get() with an aborted signal', async () => collect(await storage.get('packfile', id, undefined, {signal})))
        await expectNotFound('stat() of the object an aborted put() was given', () => storage.stat('packfile', id))
        expect(await listAll(storage, 'packfile'), 'list() after an aborted put()').not.toContain(id)
      })

      run('a put aborted while its source is still sending fails promptly and leaves nothing', async (storage) => {
        // The source sends 1 MiB, then nothing more (a stalled socket): only the abort can end the put.
        const id = randomId()
        let pulled!: () => void
        const started = new Promise<void>((resolve) => (pulled = resolve))
        let sent = false
        const source = new Readable({
          read() {
            if (sent) {
              pulled()
              return
            }
            sent = true
            this.push(pseudoRandomBytes(id, 0, MiB))
          },
        })
        const controller = new AbortController()
        const putting = storage.put('packfile', id, source, 8 * MiB, {signal: controller.signal})
        putting.catch(() => {})
        try {
          await started
          controller.abort()
          await expectFailure('put() aborted while its source was waiting', () => putting)
        } finally {
          source.destroy()
        }
        await expectNotFound('stat() after an aborted put()', () => storage.stat('packfile', id))
        expect(await listAll(storage, 'packfile'), 'list() after an aborted put()').not.toContain(id)
      })

      run('a get aborted midway ends its stream with an error', async (storage) => {
        const id = randomId()
        const size = 8 * MiB
        await storage.put('packfile', id, pseudoRandomStream(id, size), size)
        const controller = new AbortController()
        const stream = await storage.get('packfile', id, undefined, {signal: controller.signal})
        const chunks = stream[Symbol.asyncIterator]()
        expect((await chunks.next()).done, 'the first chunk of get()').toBe(false)
        controller.abort()
        await expectFailure('reading on after the abort', async () => {
          for (let next = await chunks.next(); !next.done; next = await chunks.next());
        })
      })
    })

    describe('capabilities and lifecycle', () => {
      run('capabilities() is sane', async (storage) => {
        const caps = storage.capabilities()
        for (const key of ['write', 'delete'] as const) expect(typeof caps[key], `capabilities().${key}`).toBe('boolean')
        expect(caps.write, 'a storage this suite can test writes').toBe(true)
        // Deprecated and ignored (every storage reads); a storage that still says it must not say false.
        if (caps.read !== undefined) expect(caps.read, 'capabilities().read (deprecated) when given').toBe(true)
        for (const key of ['cold', 'worm'] as const) {
          if (caps[key] !== undefined) expect(typeof caps[key], `capabilities().${key}`).toBe('boolean')
        }
        if (caps.cold) expect(isColdStorage(storage), 'a cold storage must implement requestRestore() and restoreStatus()').toBe(true)
        expect(storage.capabilities(), 'capabilities() is stable').toEqual(caps)
        expect(typeof storage.location, 'storage.location').toBe('string')
        expect(storage.location.length, 'storage.location is not empty').toBeGreaterThan(0)
        expect(storage.location, 'storage.location never carries credentials').not.toMatch(/:\/\/[^/@]*:[^/@]*@/)
      })

      run('close() resolves after use', async (storage) => {
        const id = randomId()
        await put(storage, 'lock', id, randomBytes(100))
        closedByTest.add(storage)
        await storage.close()
      })
    })
  })
}
