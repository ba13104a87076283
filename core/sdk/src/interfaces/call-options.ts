/**
 * What every call of a storage, an exporter or an importer's `open()` may receive. plakar passes
 * the command's signal: it is aborted on Ctrl-C (SIGINT, SIGTERM), on a timeout, or when the
 * engine no longer needs the result (another call failed fatally). The call then stops its
 * network and disk work promptly (aborts requests in flight, stops a transfer, closes what it
 * opened) and rejects, with `signal.reason` or any error; a put or storeFile that was stopped
 * leaves nothing, as any failed one. Absent: the call is never cancelled.
 */
export interface CallOptions {
  signal?: AbortSignal
}
