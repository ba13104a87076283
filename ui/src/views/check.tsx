import {useEffect, useState} from 'preact/hooks'
import {api, type CheckJob} from '../api'
import {bytes, count} from '../format'
import {ErrorLine} from '../util'
import {Crumbs} from './crumbs'

/** Starts a check of a snapshot (or a folder of it) and follows its progress as it happens. */
export function Check({id, path}: {id: string; path?: string}) {
  const [job, setJob] = useState<CheckJob>()
  const [error, setError] = useState<string>()
  const [fast, setFast] = useState(false)
  useEffect(() => {
    if (!job || job.state !== 'running') return
    let live = true
    // Long poll: the server answers as soon as the check's state moves past the version we have.
    api.waitCheck(job.id, job.version).then(
      (j) => live && setJob(j),
      (e: Error) => live && setError(e.message),
    )
    return () => {
      live = false
    }
  }, [job?.id, job?.version])
  const start = () => {
    setError(undefined)
    api.startCheck(id, path, fast).then(setJob, (e: Error) => setError(e.message))
  }
  const p = job?.progress
  const pct = p && p.total ? Math.floor((p.phase === 'data' && p.totalBytes ? (p.bytes ?? 0) / p.totalBytes : p.done / p.total) * 100) : undefined
  return (
    <section>
      <Crumbs id={id} path={path ?? '/'} tail="check" />
      <h1>Check</h1>
      <p>Reads back and authenticates every chunk of {path ? <code>{path}</code> : 'this snapshot'}, and names every damaged file.</p>
      <div class="actions">
        <label>
          <input type="checkbox" checked={fast} onChange={() => setFast(!fast)} /> fast (index only, reads no data)
        </label>
        <button type="button" class="primary" id="start-check" disabled={job?.state === 'running'} onClick={start}>
          {job?.state === 'running' ? 'Checking…' : 'Start check'}
        </button>
      </div>
      <ErrorLine error={error} />
      {job ? (
        <div class="check" id="check-status" data-state={job.state}>
          {job.state === 'running' ? (
            <>
              <progress max={100} value={pct} aria-label="Check progress" />
              <p class="muted">
                {p ? `${p.phase === 'data' ? 'verifying data' : 'walking files'}: ${count(p.done)}${p.total ? ` of ${count(p.total)}` : ''}${p.bytes ? `, ${bytes(p.bytes)}` : ''}` : 'starting…'}
              </p>
            </>
          ) : null}
          {job.state === 'done' && job.problems.length === 0 ? (
            <p class="ok" id="check-result">
              OK: {count(job.result!.files)} files{job.fast ? '' : `, ${bytes(job.result!.bytes)} read and verified`}.
            </p>
          ) : null}
          {job.state === 'failed' ? <p class="error">The check failed: {job.error}</p> : null}
          {job.problems.length > 0 ? (
            <>
              <p class="error" id="check-result">
                {job.problems.length} problem{job.problems.length === 1 ? '' : 's'} found:
              </p>
              <ul class="problems">
                {job.problems.map((pr, i) => (
                  <li key={i}>{pr.message}</li>
                ))}
              </ul>
            </>
          ) : null}
        </div>
      ) : null}
    </section>
  )
}
