/**
 * Reads text files that a bench polls every few ms, again only when their stat (inode, size,
 * mtime) changed: polling multi-MB task files whole would load the machine the bench measures.
 */
import { readFile, stat } from 'node:fs/promises';

export class FileTextCache {
  private readonly known = new Map<string, { version: string; text: string }>();

  /** The file's text ('' when it is missing), read only when it changed since the last call. */
  async read(path: string): Promise<string> {
    const info = await stat(path).catch(() => null);
    const version = info ? `${info.ino}:${info.size}:${info.mtimeMs}` : '';
    const known = this.known.get(path);
    if (known && known.version === version) return known.text;
    const text = info ? await readFile(path, 'utf8').catch(() => '') : '';
    this.known.set(path, { version, text });
    return text;
  }
}
