/**
 * Keys and content hashes of task stream entries (see core/model/changes.ts `EntryKey`).
 *
 * - ui (ui_messages.json): `"<ts>:<occurrence>"`; a partial message rewritten in place keeps
 *   its ts and so its key. `occurrence` counts earlier entries (file order) with the same ts.
 * - api (api_conversation_history.json): the entry's position.
 */
import { SyncError } from '../errors';
import type { EntryKey, StreamName } from '../model/changes';
import { hashJson } from '../model/hash';

/** One stream entry with its key and content hash (sha256 of `JSON.stringify(entry)`). */
export interface KeyedEntry {
  key: EntryKey;
  hash: string;
  entry: unknown;
}

/**
 * Keys and hashes every entry, in file order. Throws SyncError STREAM_ENTRY_INVALID when a ui
 * entry has no ts that can be a key (a non-negative integer): such a file is left alone rather
 * than synced under made-up keys.
 */
export function keyEntries(stream: StreamName, entries: readonly unknown[]): KeyedEntry[] {
  const keyer = new EntryKeyer(stream);
  return entries.map((entry, index) => ({ key: keyer.next(entry, index), hash: hashJson(entry), entry }));
}

/**
 * Hands out keys for entries given in file order. Used by `keyEntries` and by the incremental
 * parser, which feeds it the kept prefix's ts values without hashing them again.
 */
export class EntryKeyer {
  private readonly seen = new Map<number, number>();

  constructor(readonly stream: StreamName) {}

  /** The key of the entry at `index` (file order); every earlier entry must have been given. */
  next(entry: unknown, index: number): EntryKey {
    if (this.stream === 'api') return String(index);
    return this.nextTs(uiTimestamp(entry, index));
  }

  /** The ui key of the next entry whose ts is already known. */
  nextTs(ts: number): EntryKey {
    const occurrence = this.seen.get(ts) ?? 0;
    this.seen.set(ts, occurrence + 1);
    return `${ts}:${occurrence}`;
  }
}

/** The `ts` of a ui entry; throws STREAM_ENTRY_INVALID when it cannot be a key. */
export function uiTimestamp(entry: unknown, index: number): number {
  const ts = typeof entry === 'object' && entry !== null ? (entry as { ts?: unknown }).ts : undefined;
  if (typeof ts !== 'number' || !Number.isSafeInteger(ts) || ts < 0) {
    throw new SyncError('STREAM_ENTRY_INVALID', 'a ui message needs a non-negative integer ts', {
      index,
      ts: typeof ts === 'number' ? ts : typeof ts,
    });
  }
  return ts;
}

/**
 * Key order as numbers, for ordering many keys fast (`compareEntryKeys` splits strings on
 * every comparison): `[major, minor]` per key, flattened, so key i is at 2i and 2i+1.
 */
export function keyOrderParts(keys: readonly EntryKey[]): Float64Array {
  const parts = new Float64Array(keys.length * 2);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    parts[2 * i] = keyMajor(key);
    parts[2 * i + 1] = keyMinor(key);
  }
  return parts;
}

/** `compareEntryKeys` without allocating (keys are read digit by digit). */
export function compareKeys(a: EntryKey, b: EntryKey): number {
  return keyMajor(a) - keyMajor(b) || keyMinor(a) - keyMinor(b);
}

/** The number before the colon (the ts of a ui key, the position of an api key). */
function keyMajor(key: string): number {
  let value = 0;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c === 0x3a /* : */) return value;
    if (c < 0x30 || c > 0x39) return Number(key.split(':')[0]);
    value = value * 10 + (c - 0x30);
  }
  return value;
}

/** The number after the colon (the occurrence of a ui key; 0 for api keys). */
function keyMinor(key: string): number {
  const colon = key.indexOf(':');
  if (colon < 0) return 0;
  let value = 0;
  for (let i = colon + 1; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return Number(key.slice(colon + 1));
    value = value * 10 + (c - 0x30);
  }
  return value;
}

/**
 * Sorts items by their keys (`compareEntryKeys` order), returning the input itself when it is
 * already in order (the usual case) and a sorted copy otherwise.
 */
export function sortByKey<T extends { key: EntryKey }>(items: readonly T[]): readonly T[] {
  for (let i = 1; i < items.length; i++) {
    if (compareKeys(items[i - 1]!.key, items[i]!.key) > 0) return [...items].sort((a, b) => compareKeys(a.key, b.key));
  }
  return items;
}
