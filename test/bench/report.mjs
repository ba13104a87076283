// Turns the raw records of a benchmark run into the Markdown report.
//
//   node test/bench/report.mjs RAW.json > REPORT.md      (re-render a report from its raw file)
//
// A record is one command run: {corpus, round, tool, op, ok, code, wall, user, sys, rssKiB,
// load1, repoBytes?, error?}. A measure derives one number per (corpus, round, tool) from the
// records; the report gives its median over the rounds for each tool, and plakar ÷ peer ratios
// next to the issue's target. A failed run is never dropped silently: it makes the measure
// missing for that round, the cell shows how many rounds count, and the failure is listed.
import fs from 'node:fs'

const isVersionBackup = (op) => /^backup-v\d+$/.test(op)

const one = (op, field = 'wall') => (recs) => {
  const r = recs.find((x) => x.op === op)
  if (!r) return undefined
  return r.ok ? r[field] : null
}
const peak = (ops) => (recs) => {
  const rs = recs.filter((x) => ops.includes(x.op))
  if (rs.length === 0) return undefined
  if (rs.some((x) => !x.ok || x.rssKiB == null)) return null
  return Math.max(...rs.map((x) => x.rssKiB)) * 1024
}
const cpu = (op) => (recs) => {
  const r = recs.find((x) => x.op === op)
  if (!r) return undefined
  return r.ok ? r.user + r.sys : null
}

const MiB = 1024 ** 2

/**
 * Every row of the report. `target` is the ceiling of plakar ÷ restic from issue 15 (which
 * raised issue 5's); `absolute` an absolute ceiling in the measure's unit (`absoluteLabel` how the
 * issue writes it). Rows without a target are context.
 */
export const MEASURES = [
  {corpus: 'versions', id: 'all-backups', label: 'backups of every version, total', unit: 's',
    value: (recs) => {
      const rs = recs.filter((x) => isVersionBackup(x.op))
      if (rs.length === 0) return undefined
      return rs.every((r) => r.ok) ? rs.reduce((s, r) => s + r.wall, 0) : null
    }},
  {corpus: 'versions', id: 'repo-size', label: 'repository size after the last version', unit: 'bytes', target: 1.0,
    value: (recs) => {
      const rs = recs.filter((x) => isVersionBackup(x.op)).sort((a, b) => a.op.localeCompare(b.op))
      if (rs.length === 0) return undefined
      return rs.every((r) => r.ok) ? rs.at(-1).repoBytes : null
    }},
  {corpus: 'versions', id: 'rss', label: 'peak RSS, version backups', unit: 'rss', target: 1.5,
    value: (recs) => peak(recs.filter((x) => isVersionBackup(x.op)).map((x) => x.op))(recs)},

  // Issue 15 (which raised issue 5's targets): ≤ 0.8 on every operation of each tree, peak RSS ≤
  // 1.5× restic's on every operation, and under 200 MiB for the backup, restore and check of
  // the 300 MB source tree; repository size never larger than restic's.
  ...['mixed', 'source-tree', 'many-small'].flatMap((corpus) => {
    const under200 = corpus === 'source-tree' ? {absolute: 200 * MiB, absoluteLabel: '200 MiB'} : {}
    return [
      {corpus, id: 'backup', label: 'first backup', unit: 's', target: 0.8, value: one('backup')},
      {corpus, id: 'rebackup', label: 'unchanged re-backup', unit: 's', target: 0.8, value: one('rebackup')},
      {corpus, id: 'restore', label: 'full restore', unit: 's', target: 0.8, value: one('restore')},
      {corpus, id: 'check', label: 'full check (reads all data)', unit: 's', target: 0.8, value: one('check')},
      {corpus, id: 'repo-size', label: 'repository size after first backup', unit: 'bytes', target: 1.0, value: one('backup', 'repoBytes')},
      {corpus, id: 'cpu-backup', label: 'CPU time (user+sys), first backup', unit: 's', value: cpu('backup')},
      {corpus, id: 'cpu-rebackup', label: 'CPU time (user+sys), re-backup', unit: 's', value: cpu('rebackup')},
      {corpus, id: 'cpu-restore', label: 'CPU time (user+sys), restore', unit: 's', value: cpu('restore')},
      {corpus, id: 'cpu-check', label: 'CPU time (user+sys), check', unit: 's', value: cpu('check')},
      {corpus, id: 'rss-backup', label: 'peak RSS, first backup', unit: 'rss', target: 1.5, ...under200, value: peak(['backup'])},
      {corpus, id: 'rss-rebackup', label: 'peak RSS, re-backup', unit: 'rss', target: 1.5, value: peak(['rebackup'])},
      {corpus, id: 'rss-restore', label: 'peak RSS, restore', unit: 'rss', target: 1.5, ...under200, value: peak(['restore'])},
      {corpus, id: 'rss-check', label: 'peak RSS, check', unit: 'rss', target: 1.5, ...under200, value: peak(['check'])},
    ]
  }),

  {corpus: 'big-random', id: 'backup', label: 'first backup (incompressible)', unit: 's', value: one('backup')},
  {corpus: 'big-random', id: 'backup-edited', label: 'backup of the edited copy', unit: 's', value: one('backup-edited')},
  {corpus: 'big-random', id: 'growth', label: 'repository growth after the edited copy', unit: 'bytes', target: 1.0,
    value: (recs) => {
      const a = recs.find((x) => x.op === 'backup')
      const b = recs.find((x) => x.op === 'backup-edited')
      if (!a && !b) return undefined
      return a?.ok && b?.ok ? b.repoBytes - a.repoBytes : null
    }},
  {corpus: 'big-random', id: 'rss-backup', label: 'peak RSS, first backup', unit: 'rss', target: 1.5, value: peak(['backup'])},
  {corpus: 'big-random', id: 'rss-edited', label: 'peak RSS, edited backup', unit: 'rss', target: 1.5, value: peak(['backup-edited'])},

  {corpus: 'million', id: 'backup', label: 'first backup', unit: 's', target: 1.0, value: one('backup')},
  {corpus: 'million', id: 'rebackup', label: 'unchanged re-backup', unit: 's', value: one('rebackup')},
  {corpus: 'million', id: 'rss-backup', label: 'peak RSS, first backup', unit: 'rss', target: 1.5, absolute: 600e6, value: peak(['backup'])},
  {corpus: 'million', id: 'rss-rebackup', label: 'peak RSS, re-backup', unit: 'rss', target: 1.5, absolute: 600e6, value: peak(['rebackup'])},
]

export function median(xs) {
  if (xs.length === 0) return undefined
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** Per measure and tool: the values of each round, their median and how many rounds failed. */
export function summarize(raw) {
  const {records, meta} = raw
  const rows = []
  for (const m of MEASURES) {
    if (!meta.corpora.includes(m.corpus)) continue
    const perTool = {}
    for (const tool of meta.tools) {
      const values = []
      let failed = 0
      for (let round = 1; round <= meta.rounds; round++) {
        const recs = records.filter((r) => r.corpus === m.corpus && r.round === round && r.tool === tool)
        const v = m.value(recs)
        if (v === null) failed++
        else if (v !== undefined && Number.isFinite(v)) values.push(v)
      }
      perTool[tool] = {values, failed, median: median(values)}
    }
    rows.push({...m, perTool})
  }
  return rows
}

function fmt(unit, v) {
  if (v === undefined) return '—'
  if (unit === 's') return v < 10 ? `${v.toFixed(2)} s` : `${v.toFixed(1)} s`
  if (unit === 'bytes' || unit === 'rss') {
    if (Math.abs(v) >= 1e9) return `${(v / 1e9).toFixed(2)} GB`
    if (Math.abs(v) >= 1e6) return `${(v / 1e6).toFixed(1)} MB`
    return `${(v / 1e3).toFixed(1)} kB`
  }
  return String(v)
}

const ratio = (a, b) => (a === undefined || b === undefined || b === 0 ? undefined : a / b)

function cell(row, tool, rounds) {
  const t = row.perTool[tool]
  if (!t) return ''
  let s = fmt(row.unit, t.median)
  if (t.values.length < rounds) s += ` (${t.values.length}/${rounds}${t.failed ? `, ${t.failed} failed` : ''})`
  return s
}

function verdict(row) {
  const parts = []
  const p = row.perTool.plakar?.median
  if (row.target !== undefined) {
    const r = ratio(p, row.perTool.restic?.median)
    if (r === undefined) parts.push('not measured')
    else parts.push(r <= row.target ? 'met' : `**missed** (${(r / row.target).toFixed(2)}× the target)`)
  }
  if (row.absolute !== undefined && p !== undefined) {
    const ceiling = row.absoluteLabel ?? fmt(row.unit, row.absolute)
    parts.push(p < row.absolute ? `< ${ceiling}: met` : `< ${ceiling}: **missed**`)
  }
  return parts.join('; ')
}

export const CORPUS_TITLES = {
  versions: 'versions — ten consecutive releases of a real package',
  mixed: 'mixed — binaries, text, images',
  'source-tree': 'source-tree — interpreter libraries, headers and node packages (the shape of /usr/lib or a source tree)',
  'many-small': 'many-small — 300,000 small files, 100,000 in one directory',
  'big-random': 'big-random — a 2 GiB random file, then an edited copy',
  million: 'million — 1,000,000 tiny files, 100,000 in one directory',
}

/** The results tables only (one per corpus). */
export function tables(raw) {
  const {meta} = raw
  const rows = summarize(raw)
  const peers = meta.tools.filter((t) => t !== 'plakar')
  const out = []
  for (const corpus of meta.corpora) {
    const c = meta.corpusInfo?.[corpus]
    const title = meta.profile === 'full' ? CORPUS_TITLES[corpus] : `${corpus} (profile ${meta.profile})`
    out.push(`### ${title}`, '')
    const loads = raw.records.filter((r) => r.corpus === corpus && Number.isFinite(r.load1)).map((r) => r.load1)
    const load = loads.length ? `; load average (1 min) at the start of its runs: median ${Number(median(loads).toFixed(2))}, min ${Math.min(...loads)}, max ${Math.max(...loads)}` : ''
    const shape = c?.dirs !== undefined ? ` in ${c.dirs.toLocaleString('en-US')} directories, ${c.links.toLocaleString('en-US')} symbolic links` : ''
    if (c) out.push(`${c.files.toLocaleString('en-US')} files, ${fmt('bytes', c.bytes)}${shape}${c.note ? `; ${c.note}` : ''}${load}`, '')
    const head = ['measure', ...meta.tools, ...peers.map((p) => `plakar ÷ ${p}`), 'target (÷ restic)', 'verdict']
    out.push(`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`)
    for (const row of rows.filter((r) => r.corpus === corpus)) {
      const ratios = peers.map((peer) => {
        const r = ratio(row.perTool.plakar?.median, row.perTool[peer]?.median)
        return r === undefined ? '—' : r.toFixed(2)
      })
      const target = row.target !== undefined ? `≤ ${row.target.toFixed(1)}` : ''
      out.push(`| ${[row.label, ...meta.tools.map((t) => cell(row, t, meta.rounds)), ...ratios, target, verdict(row)].join(' | ')} |`)
    }
    out.push('')
  }
  return out.join('\n')
}

export function render(raw) {
  const {meta, records} = raw
  const L = []
  L.push(`# Benchmark: plakar vs ${meta.tools.filter((t) => t !== 'plakar').join(' and ')} — ${meta.date.slice(0, 10)}, ${meta.host}`, '')
  L.push(`Produced by \`${meta.command}\` (test/bench/run.mjs); raw timings in \`${meta.rawFile}\`.`)
  L.push(`Profile **${meta.profile}**, ${meta.rounds} round(s); medians over the rounds; the tools run in alternation`)
  L.push('(each step runs for every tool before the next step; the order of the tools rotates every round).', '')
  L.push('## Machine', '')
  L.push(`- ${meta.machine.cpu}, \`nproc\` = ${meta.machine.nproc}, ${fmt('bytes', meta.machine.ramBytes)} RAM (${fmt('bytes', meta.machine.memAvailableBytes)} available at start), kernel ${meta.machine.kernel}`)
  L.push(`- disk: ${meta.machine.disk}`)
  L.push(`- load average (1 min) at start: ${meta.load.start}; during the run: min ${meta.load.min}, median ${meta.load.median}, max ${meta.load.max} (${meta.load.samples} samples); at end: ${meta.load.end}`)
  L.push(`- page cache ${meta.dropCaches ? 'dropped (`sync; echo 3 > /proc/sys/vm/drop_caches`) before every timed step except the version backups (whose measure is the repository size)' : `not dropped (${meta.dropCachesNote ?? 'disabled'})`}`)
  L.push(`- ${meta.versions.node}; plakar ${meta.versions.plakar}; ${meta.versions.restic ?? ''}${meta.versions.borg ? `; ${meta.versions.borg}` : ''}`)
  L.push(`- started ${meta.date}, ended ${meta.endDate ?? '?'} (${meta.elapsedSeconds ? `${(meta.elapsedSeconds / 60).toFixed(0)} min` : '?'})`, '')
  L.push('## Settings', '')
  for (const s of meta.settings) L.push(`- ${s}`)
  L.push('')
  L.push('## Results', '')
  L.push('Times are wall-clock seconds; sizes in MB/GB (10⁶/10⁹ bytes), apparent bytes of every file in the repository directory')
  L.push('(caches outside the repository, as all three tools keep them, are not counted); peak RSS is GNU time\'s `%M`')
  L.push('(the largest resident set of the process — plakar\'s worker threads are in its process). A cell shows the median of the')
  L.push('rounds; `(n/N)` means only n rounds gave a value.', '')
  L.push(tables(raw))
  const failures = records.filter((r) => !r.ok)
  L.push('## Failed runs', '')
  if (failures.length === 0) L.push('None: every run exited 0 and every restore matched its source.')
  for (const f of failures) L.push(`- ${f.corpus} round ${f.round}, ${f.tool} ${f.op}: exit ${f.code}${f.error ? ` — ${f.error.replace(/\s+/g, ' ').slice(0, 300)}` : ''}`)
  L.push('')
  if (meta.notes?.length) {
    L.push('## Notes', '')
    for (const n of meta.notes) L.push(`- ${n}`)
    L.push('')
  }
  return L.join('\n')
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const raw = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'))
  process.stdout.write(render(raw))
}
