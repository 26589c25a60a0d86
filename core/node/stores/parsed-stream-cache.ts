/**
 * The last parse of recently read (or written) stream files, with the file version it belongs
 * to (json-file's `ino:size:mtime` stamp): reading a task again after the assistant appended
 * one message parses and hashes only that message (see core/tracking/stream-text.ts), and a
 * file still at that version is not read at all. Bounded by entry count and by total text
 * size: a parse holds the whole file text, and tasks of 20 MB exist.
 *
 * A file written here is kept as its text and parsed only when it is next read: a backfill
 * writes thousands of files it never reads again, and parsing each back took a sixth of its CPU.
 */
import { parseStreamText, type ParsedStream } from '../../tracking/stream-text';
import type { StreamName } from '../../model/changes';

/** A parse of a file's text, and the version of the file that held that text (null: unknown). */
export type VersionedParse = ParsedStream & { readonly version: string | null };

/** A cached file: parsed, or written here and not parsed yet. */
type Cached =
  | { readonly kind: 'parsed'; readonly text: string; readonly parse: VersionedParse }
  | { readonly kind: 'written'; readonly text: string; readonly stream: StreamName; readonly version: string; readonly previous?: VersionedParse };

export class ParsedStreamCache {
  private readonly byPath = new Map<string, Cached>();
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

  /**
   * The parse of `path` as last read or written. A written text is parsed now (against the
   * parse it replaced, for the unchanged prefix); one that does not parse is dropped (undefined).
   */
  get(path: string): VersionedParse | undefined {
    const cached = this.byPath.get(path);
    if (!cached) return undefined;
    if (cached.kind === 'parsed') return cached.parse;
    let parse: VersionedParse;
    try {
      parse = { ...parseStreamText(cached.stream, cached.text, cached.previous), version: cached.version };
    } catch {
      this.delete(path);
      return undefined;
    }
    // Parsed in place: its age in the cache stays that of the write.
    this.byPath.set(path, { kind: 'parsed', text: cached.text, parse });
    return parse;
  }

  /** Keeps `parsed` as the newest entry, dropping the least recently stored past the bounds. */
  set(path: string, parsed: VersionedParse): void {
    this.store(path, { kind: 'parsed', text: parsed.text, parse: parsed });
  }

  /**
   * Keeps the text just written to `path` (the file's version `version`), to be parsed when it
   * is next read. The parse it replaces is kept for that, unless it was itself never parsed (a
   * file written again and again without a read does not hold every text it had).
   */
  setWritten(path: string, stream: StreamName, text: string, version: string): void {
    const old = this.byPath.get(path);
    const previous = old?.kind === 'parsed' ? old.parse : undefined;
    this.store(path, { kind: 'written', text, stream, version, previous });
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

  private store(path: string, cached: Cached): void {
    this.delete(path);
    if (cached.text.length > this.maxTextChars) return;
    this.byPath.set(path, cached);
    this.textChars += cached.text.length;
    for (const [oldest, value] of this.byPath) {
      if (this.byPath.size <= this.maxStreams && this.textChars <= this.maxTextChars) break;
      this.byPath.delete(oldest);
      this.textChars -= value.text.length;
    }
  }
}
