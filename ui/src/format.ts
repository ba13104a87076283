export function bytes(n: number | undefined): string {
  if (n === undefined) return ''
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB']
  let v = n / 1024
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${units[i]}`
}

export function count(n: number): string {
  return n.toLocaleString()
}

export function date(iso: string | undefined): string {
  if (!iso) return ''
  const d = new Date(iso)
  return d.toLocaleString(undefined, {year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit'})
}

export function mode(type: string, m: number | undefined): string {
  if (m === undefined) return ''
  const t = type === 'directory' ? 'd' : type === 'symlink' ? 'l' : '-'
  const bits = 'rwxrwxrwx'
  let s = ''
  for (let i = 0; i < 9; i++) s += m & (1 << (8 - i)) ? bits[i] : '-'
  return t + s
}

export function short(id: string): string {
  return id.slice(0, 8)
}

/** "3 files, 2 folders" from a summary's counts. */
export function contents(s: {files: number; directories: number; symlinks?: number}): string {
  const parts = [`${count(s.files)} file${s.files === 1 ? '' : 's'}`]
  if (s.directories) parts.push(`${count(s.directories)} folder${s.directories === 1 ? '' : 's'}`)
  if (s.symlinks) parts.push(`${count(s.symlinks)} link${s.symlinks === 1 ? '' : 's'}`)
  return parts.join(', ')
}
