import type {Storage} from '@plakar/sdk'

/**
 * Where each storage method takes its options (CallOptions), by argument position. Methods not
 * named here (capabilities, close, the thaw and WORM settings) take none.
 */
const OPTIONS_AT: Readonly<Record<string, number>> = {
  create: 1,
  open: 0,
  replaceConfig: 1,
  list: 1,
  listWithSizes: 1,
  put: 4,
  get: 3,
  stat: 2,
  delete: 2,
  sweep: 1,
  requestRestore: 2,
  restoreStatus: 2,
  retention: 2,
  extendRetention: 3,
}

/**
 * The storage with `signal` given to every call that does not carry its own: a command opens
 * its repository with its own signal (Ctrl-C, SIGTERM), so every storage call of the command —
 * from the repository layer, the engine, locks, states, maintenance — can be cancelled without
 * threading the signal through each of them. Lock objects are left out: see below. A Proxy keeps the storage's own members (localPath,
 * the cold and WORM extensions) visible as they are, so `isColdStorage` and `isWormStorage`
 * still see them.
 */
export function withSignal<S extends Storage>(storage: S, signal: AbortSignal): S {
  return new Proxy(storage, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown
      if (typeof value !== 'function') return value
      const at = typeof property === 'string' && Object.hasOwn(OPTIONS_AT, property) ? OPTIONS_AT[property] : undefined
      if (at === undefined) return (value as (...args: unknown[]) => unknown).bind(target)
      return (...args: unknown[]) => {
        // Locks are tiny, and their release must still happen after Ctrl-C (the engine releases
        // them while it unwinds, when the signal is already aborted): never bound.
        if (args[0] === 'lock') return (value as (...args: unknown[]) => unknown).apply(target, args)
        const given = args[at] as {signal?: AbortSignal} | undefined
        if (given?.signal === undefined) {
          const padded = args.length > at ? [...args] : [...args, ...Array<undefined>(at - args.length), undefined]
          padded[at] = {...given, signal}
          args = padded
        }
        return (value as (...args: unknown[]) => unknown).apply(target, args)
      }
    },
  })
}
