/**
 * A fingerprint of a folder tree (every path, file content, and folder), so a test can prove
 * a command left a task store exactly as it was (or restored it byte for byte).
 */
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';

/** sha256 over the sorted relative paths and the contents of every file under `root`. */
export async function hashTree(root: string): Promise<string> {
  const hash = createHash('sha256');
  for (const [path, content] of await listTree(root)) hash.update(`${path}\u0000${content === null ? 'dir' : createHash('sha256').update(content).digest('hex')}\n`);
  return hash.digest('hex');
}

/** Every file (with its content) and folder (null) under `root`, by relative path, sorted. */
export async function listTree(root: string): Promise<Array<[string, Buffer | null]>> {
  const out: Array<[string, Buffer | null]> = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        out.push([relative(root, path), null]);
        await walk(path);
      } else {
        out.push([relative(root, path), await readFile(path)]);
      }
    }
  };
  await walk(root);
  return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}
