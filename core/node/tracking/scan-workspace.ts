/**
 * Scans a workspace folder into a manifest (path -> hash, size, mode, mtime, binary) for
 * `diffManifest`. Node adapter of core/tracking/manifest.ts.
 */
import { createHash } from 'node:crypto';
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TextDecoder } from 'node:util';
import { SyncError } from '../../errors';
import { isConflictCopy } from '../../merge/conflict-copy';
import type { ManifestEntry } from '../../tracking/manifest';

/** Folder names never synced, wherever they are. */
export const DEFAULT_IGNORED_FOLDERS: ReadonlySet<string> = new Set(['.git', 'node_modules']);

/** How many bytes at the start of a file decide whether it is binary. */
export const BINARY_SNIFF_BYTES = 8192;

const READ_CHUNK = 1 << 20;

/** A file or folder the scan could not read; its last synced entries are kept. */
export interface ScanProblem {
  path: string;
  /** The Node error code (EACCES, EBUSY, ...). */
  code: string;
}

export interface ScanOptions {
  /** More paths to leave out (relative, '/'-separated; called for folders and files). */
  ignore?: (relPath: string) => boolean;
  /** The last manifest: a file whose size and mtime are unchanged keeps its hash unread. */
  previous?: ReadonlyMap<string, ManifestEntry>;
  /** Told about each file or folder that could not be read. */
  onProblem?: (problem: ScanProblem) => void;
  /** Files hashed at once; default 8. */
  concurrency?: number;
  /**
   * `content` (default): `hash` is the sha256 of the bytes. `stat`: nothing is read; `hash` is
   * a stamp of size, mtime and inode (`stat:<size>:<mtime>:<ino>`), which changes whenever a
   * file is replaced (a rename gives a new inode) or rewritten. For callers that only need to
   * know that a file may have changed and read it anyway (the task-store watcher).
   */
  identity?: 'content' | 'stat';
}

/** True for paths left out by default: `.git` and `node_modules` folders, conflict copies. */
export function isIgnoredByDefault(relPath: string): boolean {
  return relPath.split('/').some((segment) => DEFAULT_IGNORED_FOLDERS.has(segment)) || isConflictCopy(relPath);
}

/**
 * Walks `root` and returns its manifest, keyed by relative '/'-separated path, in path order.
 * Symbolic links and special files are skipped (never followed out of the root). A file that
 * vanishes during the scan is left out; a file or folder that cannot be read is reported to
 * `onProblem` and keeps its `previous` entries, so it is never taken for deleted.
 * Throws SyncError WORKSPACE_ROOT_MISSING when `root` is not a readable folder.
 */
export async function scanWorkspace(root: string, options: ScanOptions = {}): Promise<Map<string, ManifestEntry>> {
  const ignore = options.ignore;
  const skip = (rel: string) => isIgnoredByDefault(rel) || (ignore ? ignore(rel) : false);
  try {
    const info = await stat(root);
    if (!info.isDirectory()) throw Object.assign(new Error('not a folder'), { code: 'ENOTDIR' });
  } catch (err) {
    throw new SyncError('WORKSPACE_ROOT_MISSING', 'workspace root is not a readable folder', { root, code: errorCode(err) }, { cause: err });
  }

  const files: string[] = [];
  const kept: ManifestEntry[] = [];
  const problem = (path: string, err: unknown) => options.onProblem?.({ path, code: errorCode(err) });
  const keepPrevious = (prefix: string, exact: boolean) => {
    for (const entry of options.previous?.values() ?? []) {
      if (exact ? entry.path === prefix : entry.path.startsWith(`${prefix}/`)) kept.push(entry);
    }
  };

  const walk = async (rel: string): Promise<void> => {
    let dirents;
    try {
      dirents = await readdir(rel ? join(root, rel) : root, { withFileTypes: true });
    } catch (err) {
      if (rel === '') throw new SyncError('WORKSPACE_ROOT_MISSING', 'workspace root cannot be listed', { root, code: errorCode(err) }, { cause: err });
      if (errorCode(err) === 'ENOENT') return;
      problem(rel, err);
      keepPrevious(rel, false);
      return;
    }
    for (const dirent of dirents) {
      const childRel = rel ? `${rel}/${dirent.name}` : dirent.name;
      if (skip(childRel)) continue;
      if (dirent.isDirectory()) await walk(childRel);
      else if (dirent.isFile()) files.push(childRel);
    }
  };
  await walk('');

  const entries: ManifestEntry[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const rel = files[next++]!;
      try {
        const entry = await scanFile(root, rel, options.previous?.get(rel), options.identity ?? 'content');
        if (entry) entries.push(entry);
      } catch (err) {
        if (errorCode(err) === 'ENOENT') continue;
        problem(rel, err);
        keepPrevious(rel, true);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 8) }, worker));

  const all = [...entries, ...kept].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return new Map(all.map((entry) => [entry.path, entry]));
}

/** One file's entry; reuses `previous`'s hash when size and mtime are unchanged. Null when it is no longer a file. */
async function scanFile(root: string, rel: string, previous: ManifestEntry | undefined, identity: 'content' | 'stat'): Promise<ManifestEntry | null> {
  if (identity === 'stat') {
    const info = await stat(join(root, rel));
    if (!info.isFile()) return null;
    const base = { path: rel, size: info.size, mode: info.mode & 0o777, mtime: info.mtimeMs };
    if (previous && previous.size === info.size && previous.mtime === info.mtimeMs) return { ...base, hash: previous.hash, binary: previous.binary };
    return { ...base, hash: `stat:${info.size}:${info.mtimeMs}:${info.ino}`, binary: false };
  }
  const handle = await open(join(root, rel), 'r');
  try {
    const info = await handle.stat();
    if (!info.isFile()) return null;
    const base = { path: rel, size: info.size, mode: info.mode & 0o777, mtime: info.mtimeMs };
    if (previous && previous.size === info.size && previous.mtime === info.mtimeMs) {
      return { ...base, hash: previous.hash, binary: previous.binary };
    }
    const hash = createHash('sha256');
    const decoder = new TextDecoder('utf-8', { fatal: true });
    const buffer = Buffer.allocUnsafe(READ_CHUNK);
    let sniffed = 0;
    let binary = false;
    let size = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, READ_CHUNK, null);
      if (bytesRead === 0) break;
      const chunk = buffer.subarray(0, bytesRead);
      hash.update(chunk);
      size += bytesRead;
      if (sniffed < BINARY_SNIFF_BYTES && !binary) {
        const head = chunk.subarray(0, BINARY_SNIFF_BYTES - sniffed);
        sniffed += head.length;
        binary = head.includes(0) || !isUtf8(decoder, head, true);
      }
    }
    // The whole file was sniffed: a character cut off at its end makes it not text.
    if (!binary && sniffed < BINARY_SNIFF_BYTES) binary = !isUtf8(decoder, new Uint8Array(0), false);
    return { ...base, size, hash: hash.digest('hex'), binary };
  } finally {
    await handle.close();
  }
}

/**
 * False when `bytes` (fed to a streaming decoder) are not UTF-8. With `more`, a character cut
 * at the end is fine: the rest may follow (or lie past the sniff limit).
 */
function isUtf8(decoder: TextDecoder, bytes: Uint8Array, more: boolean): boolean {
  try {
    decoder.decode(bytes, { stream: more });
    return true;
  } catch {
    return false;
  }
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'UNKNOWN';
}
