/**
 * The `<file>.lock` directory lock the assistants take around each write (Roo Code and its
 * forks): creating a directory is atomic, so whoever creates it holds the lock. A holder keeps
 * the directory's mtime fresh; a lock older than 31 s is stale (its holder died) and may be
 * taken over. We take the same lock, so our writes never interleave with the assistant's.
 */
import { mkdir, rm, stat, utimes } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SyncError } from '../../errors';
import { isErrnoCode } from './json-file';

/** Code of a write that gave up because another process held the file's lock too long. */
export const STORE_LOCKED = 'STORE_LOCKED';

export interface FileLockOptions {
  /** A lock whose mtime is older than this is stale and is taken over (ms). Default 31 000, as the assistants. */
  staleMs: number;
  /** How long to wait for a live lock before failing with STORE_LOCKED (ms). Default 10 000. */
  waitMs: number;
  /** Pause between attempts while waiting (ms). Default 50. */
  pollMs: number;
  /** How often a held lock's mtime is refreshed so others do not think it stale (ms). Default 10 000. */
  refreshMs: number;
}

export const DEFAULT_FILE_LOCK_OPTIONS: Readonly<FileLockOptions> = { staleMs: 31_000, waitMs: 10_000, pollMs: 50, refreshMs: 10_000 };

/** The lock directory guarding `path`. */
export const lockPathFor = (path: string): string => `${path}.lock`;

/** A held lock; `release()` is idempotent. */
export interface FileLock {
  readonly lockPath: string;
  release(): Promise<void>;
}

/**
 * Takes the lock of `path`, waiting up to `waitMs` for a live holder and taking over a stale
 * lock. Throws STORE_LOCKED (details `{path, lockPath, waitedMs}`) when the wait runs out.
 */
export async function acquireFileLock(path: string, options: Partial<FileLockOptions> = {}): Promise<FileLock> {
  const opts = { ...DEFAULT_FILE_LOCK_OPTIONS, ...options };
  const lockPath = lockPathFor(path);
  const started = Date.now();
  for (;;) {
    try {
      await mkdir(lockPath);
      return heldLock(lockPath, opts.refreshMs);
    } catch (error) {
      if (isErrnoCode(error, 'ENOENT')) {
        await mkdir(dirname(lockPath), { recursive: true });
        continue;
      }
      if (!isErrnoCode(error, 'EEXIST')) throw error;
    }
    const age = await lockAge(lockPath);
    if (age === null) continue; // released between our mkdir and stat
    if (age > opts.staleMs) {
      await rm(lockPath, { recursive: true, force: true });
      continue;
    }
    const waited = Date.now() - started;
    if (waited >= opts.waitMs) {
      throw new SyncError(STORE_LOCKED, `${path} is locked by another process (${lockPath})`, { path, lockPath, waitedMs: waited });
    }
    await delay(Math.min(opts.pollMs, opts.waitMs - waited));
  }
}

/** Runs `fn` holding the lock of `path`; the lock is released however `fn` ends. */
export async function withFileLock<T>(path: string, options: Partial<FileLockOptions>, fn: () => Promise<T>): Promise<T> {
  const lock = await acquireFileLock(path, options);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

async function lockAge(lockPath: string): Promise<number | null> {
  try {
    return Date.now() - (await stat(lockPath)).mtimeMs;
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT')) return null;
    throw error;
  }
}

function heldLock(lockPath: string, refreshMs: number): FileLock {
  const timer = setInterval(() => {
    const now = new Date();
    utimes(lockPath, now, now).catch(() => undefined);
  }, refreshMs);
  timer.unref();
  let released: Promise<void> | null = null;
  return {
    lockPath,
    release() {
      released ??= (async () => {
        clearInterval(timer);
        await rm(lockPath, { recursive: true, force: true });
      })();
      return released;
    },
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(1, ms)));
}
