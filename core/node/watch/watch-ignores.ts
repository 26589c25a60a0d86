/**
 * Which paths file-change detection leaves alone. Relative paths are '/'-separated; '' is the root.
 */

/** `.<name>.new_<ts>_<rand>.tmp` and `.<name>.bak_<ts>_<rand>.tmp`: an assistant's atomic-write scratch files. */
const SCRATCH_FILE = /^\..+\.(?:new|bak)_\d+_[^/]*\.tmp$/;

/** Folders the assistants keep next to task data that never sync (shadow git repos, command logs). */
const UNSYNCED_FOLDERS: ReadonlySet<string> = new Set(['checkpoints', 'command-output']);

/**
 * True for the assistants' temp files (left by crashes mid-write), their `*.lock` directories
 * (and anything inside), `checkpoints/` and `command-output/` anywhere in the path.
 */
export function isAssistantScratch(relPath: string): boolean {
  if (relPath === '') return false;
  const segments = relPath.split('/');
  for (const segment of segments) {
    if (segment.endsWith('.lock') || UNSYNCED_FOLDERS.has(segment)) return true;
  }
  return SCRATCH_FILE.test(segments[segments.length - 1]!);
}

/**
 * True when `relPath` lies deeper than `depth` levels of subfolders (chokidar's meaning:
 * depth 0 = only the root's own entries). Folders one level too deep are still listed but
 * nothing in them passes.
 */
export function isBeyondDepth(relPath: string, depth: number | undefined): boolean {
  if (depth === undefined || relPath === '') return false;
  return relPath.split('/').length > depth + 1;
}
