/**
 * The last parse of recently read stream files, so that reading a task again after the
 * assistant appended one message parses and hashes only that message (see
 * core/tracking/stream-text.ts). Bounded by entry count and by total text size: a parse holds
 * the whole file text, and tasks of 20 MB exist.
 */
import type { ParsedStream } from '../../tracking/stream-text';

export class ParsedStreamCache {
  private readonly byPath = new Map<string, ParsedStream>();
  private textChars = 0;

  constructor(
    private readonly maxStreams = 8,
    /** UTF-16 code units of text kept at most (48 M: about 96 MB). */
    private readonly maxTextChars = 48 * 1024 * 1024,
  ) {}

  get(path: string): ParsedStream | undefined {
    return this.byPath.get(path);
  }

  /** Keeps `parsed` as the newest entry, dropping the least recently stored past the bounds. */
  set(path: string, parsed: ParsedStream): void {
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
