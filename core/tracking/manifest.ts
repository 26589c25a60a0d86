/**
 * Change detection for a workspace folder: a manifest (path -> content hash, size, mode,
 * mtime, binary) compared with the last synced manifest.
 */

/** One file of a workspace as scanned (see core/node/tracking/scan-workspace.ts). */
export interface ManifestEntry {
  /** Relative, normalised, '/'-separated path. */
  path: string;
  /** sha256 hex of the content. */
  hash: string;
  size: number;
  /** Permission bits (`mode & 0o777`). */
  mode: number;
  /** Modification time in milliseconds (may have a fraction). */
  mtime: number;
  /** True when the content is not UTF-8 text (a NUL byte or invalid UTF-8 in the first 8 KB). */
  binary: boolean;
}

/** What to send for a workspace: `file.put` for each changed entry, `file.delete` per path. */
export interface ManifestDiff {
  /** New files and files whose content or mode changed, by path. */
  changed: ManifestEntry[];
  /** Synced paths that are gone, sorted. */
  deleted: string[];
}

/**
 * Compares a scan with the synced manifest. A file counts as changed when it is new or its
 * hash or mode differs: a touched file (new mtime, same content) is not a change. An empty
 * `current` deletes nothing (empty is not a deletion: a missing, unmounted or wiped folder must
 * never delete files on other devices).
 */
export function diffManifest(
  current: ReadonlyMap<string, ManifestEntry>,
  synced: ReadonlyMap<string, ManifestEntry>,
): ManifestDiff {
  const changed: ManifestEntry[] = [];
  for (const entry of current.values()) {
    const before = synced.get(entry.path);
    if (!before || before.hash !== entry.hash || before.mode !== entry.mode) changed.push(entry);
  }
  changed.sort((a, b) => compareStrings(a.path, b.path));
  const deleted: string[] = [];
  if (current.size > 0) {
    for (const path of synced.keys()) if (!current.has(path)) deleted.push(path);
    deleted.sort(compareStrings);
  }
  return { changed, deleted };
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
