/**
 * How the fixture writes files, as Roo Code does (shared/reference/task-stores.md): every write
 * rewrites the whole file as compact JSON through `.<name>.new_<ts>_<rand>.tmp`, a backup of the
 * old file as `.<name>.bak_<ts>_<rand>.tmp` and renames, inside a `<file>.lock` folder (stale
 * after 31 s). Independent of roo-sync's own store code on purpose: the fixture is the
 * assistant, not roo-sync.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

const LOCK_STALE_MS = 31_000;

function tempName(path: string, kind: 'new' | 'bak'): string {
  return join(dirname(path), `.${basename(path)}.${kind}_${Date.now()}_${randomBytes(4).toString('hex')}.tmp`);
}

async function acquireLock(path: string): Promise<string> {
  const lock = `${path}.lock`;
  for (let attempt = 0; ; attempt++) {
    try {
      await mkdir(lock);
      return lock;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const held = await stat(lock).catch(() => null);
      if (held && Date.now() - held.mtimeMs > LOCK_STALE_MS) await rm(lock, { recursive: true, force: true });
      else await new Promise((resolve) => setTimeout(resolve, Math.min(5 * 2 ** attempt, 100)));
    }
  }
}

/** Writes `value` to `path` the way Roo Code's safeWriteJson does. */
export async function writeJsonLikeRoo(path: string, value: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const lock = await acquireLock(path);
  try {
    const fresh = tempName(path, 'new');
    await writeFile(fresh, JSON.stringify(value));
    const backup = tempName(path, 'bak');
    let backedUp = false;
    try {
      await rename(path, backup);
      backedUp = true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    await rename(fresh, path);
    if (backedUp) await unlink(backup);
  } finally {
    await rmdir(lock).catch(() => undefined);
  }
}

/** Parsed JSON, or `fallback` when the file is absent. */
export async function readJson<T>(path: string, fallback: T): Promise<T> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return fallback;
    throw error;
  }
}
