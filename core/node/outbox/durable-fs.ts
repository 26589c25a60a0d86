/**
 * Small durability helpers for the journal: making a rename or a new file survive power loss
 * needs an fsync of the directory that holds it, which Node has no single call for.
 */
import { promises as fsp } from 'node:fs';

/**
 * fsyncs a directory so entries created, renamed or removed in it are on disk. Platforms that
 * cannot open a directory for syncing (Windows) make this a no-op; real IO errors propagate.
 */
export async function fsyncDirectory(dir: string): Promise<void> {
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(dir, 'r');
    await handle.sync();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EBADF') throw err;
  } finally {
    await handle?.close();
  }
}

/** Reads a whole file, or returns null when it does not exist. */
export async function readFileIfExists(path: string): Promise<Buffer | null> {
  try {
    return await fsp.readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Removes a file; a file that is already gone is fine. */
export async function removeIfExists(path: string): Promise<void> {
  try {
    await fsp.unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
