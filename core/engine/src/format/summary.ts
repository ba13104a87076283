/**
 * Directory summaries: stored in directory entries of the file tree and in the snapshot header,
 * so they belong to the format (the tree uses them, the format never reaches into the tree).
 */

/** Counts kept for every directory, for the directory itself and everything below it. */
export interface Summary {
  files: number
  directories: number
  symlinks: number
  others: number
  errors: number
  /** Bytes of regular-file content. */
  size: number
  /** Regular files per top-level MIME type ("text", "image", …). */
  types: Record<string, number>
}

export function emptySummary(): Summary {
  return {files: 0, directories: 0, symlinks: 0, others: 0, errors: 0, size: 0, types: {}}
}

export function addSummary(into: Summary, from: Summary): void {
  into.files += from.files
  into.directories += from.directories
  into.symlinks += from.symlinks
  into.others += from.others
  into.errors += from.errors
  into.size += from.size
  for (const [k, v] of Object.entries(from.types)) into.types[k] = (into.types[k] ?? 0) + v
}
