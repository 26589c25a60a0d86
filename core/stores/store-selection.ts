/**
 * Which task stores a device syncs, from the places a shell knows about: core's discovery
 * (every editor's default folders and settings.json), the folders beside the editor's own
 * globalStorage (the extension knows exactly where that is, even for editors discovery has no
 * row for), and custom storage paths the editor's live settings name. Pure: the caller checks
 * that the folders exist.
 */
import type { TaskSource } from '../model/changes';

export interface StoreCandidate {
  source: TaskSource;
  basePath: string;
  /** Where it came from, for logs: `discovery`, `global-storage`, `custom-storage-setting`. */
  foundBy: string;
}

/** Normalises a folder path for comparison (no trailing separators). */
function pathKey(path: string): string {
  return path.replace(/[\\/]+$/, '');
}

/**
 * The candidates to sync: one per (source, folder), first finder wins, limited to `sources`
 * unless that is empty (then every source found).
 */
export function selectStores(candidates: readonly StoreCandidate[], sources: readonly TaskSource[]): StoreCandidate[] {
  const seen = new Set<string>();
  const selected: StoreCandidate[] = [];
  for (const candidate of candidates) {
    if (sources.length > 0 && !sources.includes(candidate.source)) continue;
    const key = `${candidate.source}\u0000${pathKey(candidate.basePath)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    selected.push(candidate);
  }
  return selected;
}
