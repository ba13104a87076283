/**
 * One abort listener per signal, however many calls wait on it.
 *
 * A command hands one signal (its Ctrl-C) to every call it makes, and a storage or an importer
 * runs dozens of those calls at once. Each one that listened on the signal itself added a
 * listener; past ten, Node prints a MaxListenersExceededWarning on stderr, which broke the
 * one-line error of a backup whose S3 source stayed unreachable (16 concurrent retries, each
 * sleeping on the signal). Here a signal gets a single listener that fans out to the callbacks
 * registered now; a callback is dropped as soon as its call ends, so nothing grows with the
 * number of calls a command makes over its life.
 */
const callbacks = new WeakMap<AbortSignal, Set<() => void>>()

/**
 * Runs `callback` once when `signal` aborts (at once if it already has). Returns the function
 * that unregisters it: call it when the work it guards ends.
 */
export function onAbort(signal: AbortSignal, callback: () => void): () => void {
  if (signal.aborted) {
    callback()
    return () => {}
  }
  let registered = callbacks.get(signal)
  if (!registered) {
    const set = new Set<() => void>()
    registered = set
    callbacks.set(signal, set)
    signal.addEventListener(
      'abort',
      () => {
        callbacks.delete(signal)
        for (const registeredCallback of set) registeredCallback()
        set.clear()
      },
      {once: true},
    )
  }
  const set = registered
  const once = () => callback()
  set.add(once)
  return () => void set.delete(once)
}

/**
 * A signal of its own for one call, aborted with `parent`'s reason when `parent` aborts. Hand it
 * to an API that listens on its signal (an SDK request, a timer): those listeners land on the
 * child, and the parent keeps one. `release` detaches the child: call it when the call ends.
 */
export function childSignal(parent: AbortSignal): {signal: AbortSignal; release: () => void} {
  const controller = new AbortController()
  const release = onAbort(parent, () => controller.abort(parent.reason))
  return {signal: controller.signal, release}
}
