/**
 * Resolves a path received from another device against a workspace root on this disk, and
 * refuses it when symlinks would take it outside (DESIGN.md "Security rules that always hold").
 */
import { lstat, readlink, realpath } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { SyncError } from '../../errors';
import { normaliseRemotePath } from '../../paths/remote-path';

/** Symlink hops followed before a chain counts as a loop (Linux allows 40). */
const MAX_LINK_HOPS = 40;

/**
 * The absolute, symlink-free path on this disk for `relPath` inside `root`. Parts that do not
 * exist yet are allowed (the caller may be about to create them); every part that does exist
 * is resolved, dangling symlinks included, and the result must stay inside `root`'s real path.
 *
 * Throws SyncError: the PATH_* codes of `normaliseRemotePath`; `PATH_ROOT_MISSING` when the
 * root does not exist; `PATH_ESCAPES_ROOT` (details: path) when the resolved path leaves the
 * root or a symlink chain loops.
 *
 * The answer holds at the moment it is given: a symlink created afterwards is not seen, so
 * write with the returned path promptly (and never follow links when writing).
 */
export async function resolveInsideWorkspace(root: string, relPath: string): Promise<string> {
  const normal = normaliseRemotePath(relPath);
  let realRoot: string;
  try {
    realRoot = await realpath(root);
  } catch (err) {
    throw new SyncError('PATH_ROOT_MISSING', 'workspace root does not exist', { root }, { cause: err });
  }
  const resolved = await resolveExisting(join(realRoot, ...normal.split('/')), 0, normal);
  if (!isInside(realRoot, resolved)) {
    throw new SyncError('PATH_ESCAPES_ROOT', 'path leaves the workspace root through a symlink', { path: normal });
  }
  return resolved;
}

function isInside(root: string, candidate: string): boolean {
  const rel = relative(root, candidate);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/** realpath of the deepest existing ancestor, with the missing rest appended. */
async function resolveExisting(absolute: string, hops: number, normal: string): Promise<string> {
  try {
    return await realpath(absolute);
  } catch (err) {
    if (!isMissing(err)) throw err;
  }
  const stat = await lstat(absolute).catch(() => null);
  if (stat?.isSymbolicLink()) {
    // A dangling link: writing through it would create its target, so resolve that instead.
    if (hops >= MAX_LINK_HOPS) throw new SyncError('PATH_ESCAPES_ROOT', 'symlink chain too long or looping', { path: normal });
    const target = resolve(dirname(absolute), await readlink(absolute));
    return resolveExisting(target, hops + 1, normal);
  }
  const parent = dirname(absolute);
  if (parent === absolute) return absolute;
  return join(await resolveExisting(parent, hops, normal), basename(absolute));
}

function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP';
}
