/**
 * Reading and atomically writing the JSON files of a task store. Reading tells a missing file
 * (null) from a corrupt or truncated one (SyncError STORE_CORRUPT_JSON with the path and the
 * reason); writing goes through a temp file, fsync and rename, so a crash leaves either the old
 * or the new file, never half of one.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SyncError } from '../../errors';
import { replaceEscapedNul } from '../../model/escaped-nul';

/** Code of a file that exists but does not hold the JSON it should. */
export const STORE_CORRUPT_JSON = 'STORE_CORRUPT_JSON';

export function isErrnoCode(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as NodeJS.ErrnoException).code === code;
}

/** Code of a store file that could not be read or written for a reason of the OS (permissions, disk full). */
export const STORE_IO = 'STORE_IO';

/** A SyncError STORE_IO for an OS error on `path` (details `{path, reason, errno}`). */
export function storeIoError(path: string, action: string, error: unknown): SyncError {
  const errno = (error as NodeJS.ErrnoException | undefined)?.code;
  const reason = `${action} failed: ${error instanceof Error ? error.message : String(error)}`;
  return new SyncError(STORE_IO, `${path}: ${reason}`, { path, reason, ...(errno ? { errno } : {}) }, { cause: error });
}

/** The file's bytes, or null when it does not exist; other failures are STORE_IO. */
export async function readFileIfExists(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT') || isErrnoCode(error, 'ENOTDIR')) return null;
    throw storeIoError(path, 'read', error);
  }
}

/**
 * The file's bytes with a version stamp of what was read (inode, size, mtime from the same open
 * file, so the two agree), or null when it does not exist. The assistants replace files by
 * renaming a new one over them, so a different stamp means another write happened since.
 */
export async function readFileVersioned(path: string): Promise<{ bytes: Buffer; version: string } | null> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT') || isErrnoCode(error, 'ENOTDIR')) return null;
    throw storeIoError(path, 'read', error);
  }
  try {
    const stat = await handle.stat();
    const bytes = await handle.readFile();
    return { bytes, version: versionOf(stat) };
  } catch (error) {
    throw storeIoError(path, 'read', error);
  } finally {
    await handle.close();
  }
}

/** The version stamp of the file at `path` now (see readFileVersioned), or null when absent. */
export async function fileVersion(path: string): Promise<string | null> {
  try {
    return versionOf(await stat(path));
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT') || isErrnoCode(error, 'ENOTDIR')) return null;
    throw storeIoError(path, 'stat', error);
  }
}

function versionOf(stat: { ino: number; size: number; mtimeMs: number }): string {
  return `${stat.ino}:${stat.size}:${stat.mtimeMs}`;
}

/** Why `text` is not JSON, worded for a person: truncated, empty, or the parser's message. */
export function describeJsonFailure(text: string, error: unknown): string {
  const trimmed = text.trim();
  if (trimmed.length === 0) return 'empty file';
  if (trimmed.includes('\u0000')) return 'file contains NUL bytes (interrupted write)';
  const message = error instanceof Error ? error.message : String(error);
  const last = trimmed[trimmed.length - 1];
  if (/end of (JSON )?input|Unterminated/i.test(message) || (last !== ']' && last !== '}' && /^[[{]/.test(trimmed))) {
    return `truncated JSON (${text.length} bytes): ${message}`;
  }
  return `invalid JSON: ${message}`;
}

/**
 * Parses a store file's bytes (NUL characters in strings read as U+FFFD: replaceEscapedNul).
 * Throws STORE_CORRUPT_JSON (details `{path, reason}`) when they
 * are not JSON or `check` refuses the value (`check` returns the reason, or null when fine).
 */
export function parseStoreJson(path: string, bytes: Buffer, check?: (value: unknown) => string | null): unknown {
  let text = bytes.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let value: unknown;
  try {
    value = JSON.parse(replaceEscapedNul(text));
  } catch (error) {
    const reason = describeJsonFailure(text, error);
    throw new SyncError(STORE_CORRUPT_JSON, `${path}: ${reason}`, { path, reason }, { cause: error });
  }
  const problem = check?.(value) ?? null;
  if (problem !== null) throw new SyncError(STORE_CORRUPT_JSON, `${path}: ${problem}`, { path, reason: problem });
  return value;
}

/** Reads and parses a store file; null when it does not exist. */
export async function readStoreJson(path: string, check?: (value: unknown) => string | null): Promise<unknown> {
  const bytes = await readFileIfExists(path);
  return bytes === null ? null : parseStoreJson(path, bytes, check);
}

export const expectArray = (value: unknown): string | null => (Array.isArray(value) ? null : `expected a JSON array, found ${describeType(value)}`);
export const expectObject = (value: unknown): string | null =>
  typeof value === 'object' && value !== null && !Array.isArray(value) ? null : `expected a JSON object, found ${describeType(value)}`;

function describeType(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}

/** The temp name the assistants use for a file being replaced: `.<name>.new_<ts>_<rand>.tmp`. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.new_${Date.now()}_${randomBytes(4).toString('hex')}.tmp`);
}

/**
 * Replaces `path` with `data` atomically: write a temp file beside it, fsync, rename over.
 * The temp file is removed when anything fails. Returns the version stamp (see
 * readFileVersioned) of what it wrote, taken before the rename, so no later write can pass as it.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<string> {
  const temp = tempPathFor(path);
  let version: string;
  try {
    const handle = await open(temp, 'w');
    try {
      await handle.writeFile(data);
      await handle.sync();
      version = versionOf(await handle.stat());
    } finally {
      await handle.close();
    }
    await renameWithRetry(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw storeIoError(path, 'write', error);
  }
  await syncDirectory(dirname(path));
  return version;
}

/**
 * rename, retried briefly on the errors Windows gives while another process (the editor, a
 * virus scanner) has the target open.
 */
async function renameWithRetry(from: string, to: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await rename(from, to);
      return;
    } catch (error) {
      const busy = isErrnoCode(error, 'EPERM') || isErrnoCode(error, 'EACCES') || isErrnoCode(error, 'EBUSY');
      if (!busy || attempt >= 5) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20 * 2 ** attempt));
    }
  }
}

/** fsyncs a directory so a rename in it survives a power loss (not possible on Windows: skipped). */
export async function syncDirectory(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Some file systems refuse fsync on directories; the rename itself already happened.
  }
}
