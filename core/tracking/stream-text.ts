/**
 * Incremental parsing of a stream file (ui_messages.json, api_conversation_history.json).
 *
 * The assistants rewrite the whole file on every message, so a 20 MB task costs a 20 MB parse
 * and hash per message if read naively. `parseStreamText` keeps the previous read: the text
 * both reads share from the start is compared (a memory compare, not a parse), every entry that
 * lies wholly inside that shared prefix is taken over with its key and hash, and only the rest
 * is parsed and hashed. Equal text means an equal parsed value, so a reused hash is exact.
 *
 * A ParsedStream holds the whole file text: keep one per stream being watched (the tasks that
 * are being written to), not one per task in the store.
 */
import { SyncError } from '../errors';
import type { StreamName } from '../model/changes';
import { replaceEscapedNul } from '../model/escaped-nul';
import { noteEntryJson } from '../model/change-json';
import { sha256Hex } from '../model/hash';
import { EntryKeyer, uiTimestamp, type KeyedEntry } from './stream-keys';

/** One read of a stream file: its text, entries, keys and hashes, and where each entry sits. */
export interface ParsedStream {
  readonly stream: StreamName;
  readonly text: string;
  /** Entries in file order. */
  readonly entries: readonly unknown[];
  /** Keyed entries in file order (same objects as `entries`). */
  readonly keyed: readonly KeyedEntry[];
  /** Offset of each entry's first character in `text`. */
  readonly starts: readonly number[];
  /** Offset just after each entry's last character in `text`. */
  readonly ends: readonly number[];
  /** How many leading entries were taken over from the previous read without parsing. */
  readonly reused: number;
  /** ui: the largest ts among entries 0..i (lets an append skip looking for equal ts). */
  readonly maxTsUpTo: Float64Array;
}

export interface ParseStreamOptions {
  /**
   * The entries parsed here are about to be queued for upload: note each one's JSON text
   * (core/model/change-json.ts `noteEntryJson`) so its change is not serialised again. A note
   * is a slice of `text` and keeps all of it in memory while the entry lives, so only a parse
   * whose entries are used at once and then let go may note (never one kept in a cache).
   */
  noteJson?: boolean;
}

/**
 * Parses a stream file's JSON text (an array of entries), reusing `previous` (the last read of
 * the same file) for the unchanged prefix. Throws SyncError STORE_CORRUPT_JSON (details:
 * offset, reason) when the text is not a JSON array, and STREAM_ENTRY_INVALID when a ui entry
 * cannot be keyed.
 */
export function parseStreamText(stream: StreamName, text: string, previous?: ParsedStream | null, options: ParseStreamOptions = {}): ParsedStream {
  const reusable = previous && previous.stream === stream ? countReusable(previous, text) : 0;
  const entries: unknown[] = reusable > 0 ? previous!.entries.slice(0, reusable) : [];
  const starts: number[] = reusable > 0 ? previous!.starts.slice(0, reusable) : [];
  const ends: number[] = reusable > 0 ? previous!.ends.slice(0, reusable) : [];
  /** With `noteJson`: the text of each entry parsed here (not taken over), after replaceEscapedNul. */
  const raws: string[] = [];
  let pos: number;
  let expectElement: boolean;

  if (reusable > 0) {
    pos = ends[reusable - 1]!;
    expectElement = false;
  } else {
    pos = skipWhitespace(text, text.charCodeAt(0) === 0xfeff ? 1 : 0);
    if (text.charCodeAt(pos) !== 0x5b /* [ */) throw corrupt(pos, 'expected [');
    pos = skipWhitespace(text, pos + 1);
    expectElement = text.charCodeAt(pos) !== 0x5d /* ] */;
  }

  for (;;) {
    if (!expectElement) {
      pos = skipWhitespace(text, pos);
      const c = text.charCodeAt(pos);
      if (c === 0x5d /* ] */) break;
      if (c !== 0x2c /* , */) throw corrupt(pos, 'expected , or ]');
      pos = skipWhitespace(text, pos + 1);
    }
    const start = pos;
    const end = scanValue(text, start);
    try {
      const raw = replaceEscapedNul(text.slice(start, end));
      entries.push(JSON.parse(raw));
      if (options.noteJson) raws.push(raw);
    } catch (err) {
      throw corrupt(start, err instanceof Error ? err.message : 'invalid JSON');
    }
    starts.push(start);
    ends.push(end);
    pos = end;
    expectElement = false;
  }
  const after = skipWhitespace(text, pos + 1);
  if (after !== text.length) throw corrupt(after, 'text after the closing ]');

  const keyed = reusable > 0 ? previous!.keyed.slice(0, reusable) : [];
  const keyer = new EntryKeyer(stream);
  const maxTsUpTo = new Float64Array(stream === 'ui' ? entries.length : 0);
  if (stream === 'ui' && reusable > 0) {
    maxTsUpTo.set(previous!.maxTsUpTo.subarray(0, reusable));
    // Occurrence numbers of the new entries depend on earlier entries with the same ts only;
    // an append (every new ts above the kept ones) has none.
    const newTs = new Set<number>();
    for (let i = reusable; i < entries.length; i++) newTs.add(uiTimestamp(entries[i], i));
    const keptMax = maxTsUpTo[reusable - 1]!;
    if ([...newTs].some((ts) => ts <= keptMax)) {
      for (let i = 0; i < reusable; i++) {
        const ts = (entries[i] as { ts: number }).ts;
        if (newTs.has(ts)) keyer.nextTs(ts);
      }
    }
  }
  for (let i = reusable; i < entries.length; i++) {
    const entry = entries[i];
    // The hash covers JSON.stringify(entry). For an upload, a compact file's entry text is that
    // already: noting the file's slice rather than the new copy keeps no second copy in memory.
    const json = JSON.stringify(entry);
    if (options.noteJson) {
      const raw = raws[i - reusable]!;
      noteEntryJson(entry, json === raw ? raw : json);
    }
    keyed.push({ key: keyer.next(entry, i), hash: sha256Hex(json), entry });
    if (stream === 'ui') maxTsUpTo[i] = Math.max(i > 0 ? maxTsUpTo[i - 1]! : -1, (entry as { ts: number }).ts);
  }
  return { stream, text, entries, keyed, starts, ends, reused: reusable, maxTsUpTo };
}

/**
 * How many leading entries of `previous` lie inside the text shared with `text`. The last one
 * must also be followed by a delimiter in `text`, so a value cannot have grown in place
 * (`12` -> `123`); objects, arrays and strings end with their own closing character anyway.
 */
function countReusable(previous: ParsedStream, text: string): number {
  const count = previous.ends.length;
  if (count === 0) return 0;
  const shared = commonPrefixLength(previous.text, text, Math.min(previous.ends[count - 1]!, text.length));
  let lo = 0;
  let hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (previous.ends[mid]! <= shared) lo = mid + 1;
    else hi = mid;
  }
  if (lo > 0 && !isDelimiter(text.charCodeAt(previous.ends[lo - 1]!))) lo--;
  return lo;
}

function isDelimiter(c: number): boolean {
  return c === 0x2c || c === 0x5d || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

const CHUNK = 1 << 16;

/** Length of the common prefix of `a` and `b`, looked at up to `limit` characters. */
export function commonPrefixLength(a: string, b: string, limit: number): number {
  let i = 0;
  while (i < limit) {
    const end = Math.min(limit, i + CHUNK);
    if (a.slice(i, end) === b.slice(i, end)) {
      i = end;
      continue;
    }
    while (i < end && a.charCodeAt(i) === b.charCodeAt(i)) i++;
    return i;
  }
  return limit;
}

function skipWhitespace(text: string, pos: number): number {
  for (;;) {
    const c = text.charCodeAt(pos);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
    else return pos;
  }
}

/** Offset just after the JSON value starting at `start` (its syntax is checked by JSON.parse). */
function scanValue(text: string, start: number): number {
  const first = text.charCodeAt(start);
  if (first === 0x22 /* " */) return skipString(text, start);
  if (first === 0x7b /* { */ || first === 0x5b /* [ */) {
    let depth = 0;
    for (let i = start; i < text.length; ) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i = skipString(text, i);
        continue;
      }
      if (c === 0x7b || c === 0x5b) depth++;
      else if (c === 0x7d || c === 0x5d) {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    throw corrupt(start, 'unterminated value');
  }
  let i = start;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2c || c === 0x5d || c === 0x7d || c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) break;
  }
  if (i === start) throw corrupt(start, 'expected a value');
  return i;
}

/** Offset just after the string whose opening quote is at `start`. */
function skipString(text: string, start: number): number {
  let from = start + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    if (quote < 0) throw corrupt(start, 'unterminated string');
    let backslashes = 0;
    for (let j = quote - 1; text.charCodeAt(j) === 0x5c; j--) backslashes++;
    if (backslashes % 2 === 0) return quote + 1;
    from = quote + 1;
  }
}

function corrupt(offset: number, reason: string): SyncError {
  return new SyncError('STORE_CORRUPT_JSON', `stream file is not a JSON array: ${reason}`, { offset, reason });
}
