/**
 * The last parse of recently read (or written) stream files, with the file version it belongs
 * to (json-file's `ino:size:mtime` stamp): reading a task again after the assistant appended
 * one message parses and hashes only that message (see core/tracking/stream-text.ts), and a
 * file still at that version is not read at all. Bounded by entry count and by total text
 * size: a parse holds the whole file text, and tasks of 20 MB exist.
 */
import type { ParsedStream } from '../../tracking/stream-text';

/** A parse of a file's text, and the version of the file that held that text (null: unknown). */
export type VersionedParse = ParsedStream & { readonly version: string | null };

export class ParsedStreamCache {
  private readonly byPath = new Map<string, VersionedParse>();
  private textChars = 0;

  constructor(
    /**
     * Streams kept at most: two per task, for the tasks in use at once (an assistant in several
     * windows, the tasks a page of remote changes touches). With 8, writing to 8 tasks in turn
     * parsed every file whole on every message (a fifth of a second per message under load).
     */
    private readonly maxStreams = 32,
    /** UTF-16 code units of text kept at most (48 M: about 96 MB). */
    private readonly maxTextChars = 48 * 1024 * 1024,
  ) {}

  get(path: string): VersionedParse | undefined {
    return this.byPath.get(path);
  }

  /** Keeps `parsed` as the newest entry, dropping the least recently stored past the bounds. */
  set(path: string, parsed: VersionedParse): void {
    this.delete(path);
    if (parsed.text.length > this.maxTextChars) return;
    this.byPath.set(path, parsed);
    this.textChars += parsed.text.length;
    for (const [oldest, value] of this.byPath) {
      if (this.byPath.size <= this.maxStreams && this.textChars <= this.maxTextChars) break;
      this.byPath.delete(oldest);
      this.textChars -= value.text.length;
    }
  }

  delete(path: string): void {
    const old = this.byPath.get(path);
    if (!old) return;
    this.byPath.delete(path);
    this.textChars -= old.text.length;
  }

  get size(): number {
    return this.byPath.size;
  }
}
