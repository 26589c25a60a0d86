/**
 * Which workspace files do not sync: conflict copies (`*.sync-conflict-*`) and what the
 * `rooSync.workspaceSync` include/exclude globs leave out. Free of `vscode`, so the device
 * worker builds the same rule from the globs it is given.
 */
import picomatch from 'picomatch';

/** True for a path roo-sync wrote as a conflict copy. */
export function isConflictCopy(relPath: string): boolean {
  return /\.sync-conflict-[^/]*$/.test(relPath);
}

/** The ignore rule for `include`/`exclude` (paths relative to the folder, `/`-separated). */
export function workspaceIgnore(include: readonly string[], exclude: readonly string[]): (relPath: string) => boolean {
  const included = include.length > 0 ? picomatch([...include], { dot: true }) : () => true;
  const excluded = exclude.length > 0 ? picomatch([...exclude], { dot: true }) : () => false;
  return (relPath) => isConflictCopy(relPath) || !included(relPath) || excluded(relPath);
}
