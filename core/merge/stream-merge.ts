/**
 * Merge of task stream entries: union by key. Used to apply remote changes to a stream and to
 * write the stream file back in key order.
 */
import type { StreamPutBody, StreamTruncateBody } from '../model/changes';
import { compareKeys, keyOrderParts, type KeyedEntry } from '../tracking/stream-keys';

/**
 * Applies stream changes to entries and returns the entries in key order.
 *
 * `changes` must be in the order the relay accepted them (`seq` order): a put inserts or
 * replaces its key (so for one key the later change wins), a truncate drops every key after
 * its `afterKey` (`null`: all) that exists at that point; puts after it in the order stay.
 * Every device that applies the same changes in the same order gets the same entries. Changes
 * for other tasks or streams are the caller's to filter out.
 */
export function applyStreamChanges(
  entries: readonly KeyedEntry[],
  changes: ReadonlyArray<StreamPutBody | StreamTruncateBody>,
): KeyedEntry[] {
  const byKey = new Map<string, KeyedEntry>();
  for (const entry of entries) byKey.set(entry.key, entry);
  for (const change of changes) {
    if (change.type === 'stream.put') {
      byKey.set(change.key, { key: change.key, hash: change.hash, entry: change.entry });
    } else if (change.afterKey === null) {
      byKey.clear();
    } else {
      for (const key of [...byKey.keys()]) if (compareKeys(key, change.afterKey) > 0) byKey.delete(key);
    }
  }
  return sortEntries([...byKey.values()]);
}

/** The entries (raw, ready for `JSON.stringify`) in key order: what the stream file should hold. */
export function orderStream(entries: readonly KeyedEntry[]): unknown[] {
  return sortEntries(entries).map((item) => item.entry);
}

/** A key-ordered copy of `entries`. */
export function sortEntries(entries: readonly KeyedEntry[]): KeyedEntry[] {
  const parts = keyOrderParts(entries.map((item) => item.key));
  const order = entries.map((_, index) => index);
  order.sort((i, j) => parts[2 * i]! - parts[2 * j]! || parts[2 * i + 1]! - parts[2 * j + 1]!);
  return order.map((index) => entries[index]!);
}
