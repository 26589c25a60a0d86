/**
 * Keys of a ui stream as read from disk, kept stable against the sync state.
 *
 * ui keys are `<ts>:<occurrence>`, the occurrence counted in file order. When an earlier entry
 * with the same ts is gone (a truncate dropped `ts:0` while a later `ts:1` survived), counting
 * again would rename `ts:1` to `ts:0` and make the same entry look new here and missing there.
 * So, per ts whose synced keys have such a hole, the entries on disk take the synced keys in
 * order (further ones continue after the highest synced occurrence). Every other entry keeps
 * the key `keyEntries` gives it.
 */
import type { EntryKey, StreamName } from '../model/changes';
import { keyEntries, type KeyedEntry } from '../tracking/stream-keys';

export function keyEntriesStable(
  stream: StreamName,
  entries: readonly unknown[],
  synced: ReadonlyMap<EntryKey, unknown>,
  /** The same entries already keyed by the store (TaskSnapshot.keyed): saves hashing them again. */
  prekeyed?: readonly KeyedEntry[],
): KeyedEntry[] {
  const keyed = prekeyed && prekeyed.length === entries.length ? [...prekeyed] : keyEntries(stream, entries);
  if (stream !== 'ui' || synced.size === 0) return keyed;
  const holes = syncedKeysWithHoles(synced.keys());
  if (holes.size === 0) return keyed;
  const used = new Map<string, number>();
  return keyed.map((entry) => {
    const ts = uiKeyTimestamp(entry.key);
    const keys = holes.get(ts);
    if (!keys) return entry;
    const index = used.get(ts) ?? 0;
    used.set(ts, index + 1);
    const key = index < keys.length ? keys[index]! : `${ts}:${occurrence(keys[keys.length - 1]!) + 1 + index - keys.length}`;
    return key === entry.key ? entry : { ...entry, key };
  });
}

/** ts -> its synced keys in occurrence order, for each ts whose occurrences are not 0..n-1. */
function syncedKeysWithHoles(keys: Iterable<EntryKey>): Map<string, EntryKey[]> {
  const byTs = new Map<string, EntryKey[]>();
  for (const key of keys) {
    const colon = key.indexOf(':');
    if (colon < 0) continue;
    const ts = key.slice(0, colon);
    const list = byTs.get(ts);
    if (list) list.push(key);
    else byTs.set(ts, [key]);
  }
  const holes = new Map<string, EntryKey[]>();
  for (const [ts, list] of byTs) {
    if (list.length === 1 && occurrence(list[0]!) === 0) continue;
    list.sort((a, b) => occurrence(a) - occurrence(b));
    if (list.some((key, i) => occurrence(key) !== i)) holes.set(ts, list);
  }
  return holes;
}

/** The `<ts>` of a ui key `<ts>:<occurrence>`. */
export function uiKeyTimestamp(key: EntryKey): string {
  return key.slice(0, key.indexOf(':'));
}

/** The `<occurrence>` of a ui key `<ts>:<occurrence>`. */
export function occurrence(key: EntryKey): number {
  return Number(key.slice(key.indexOf(':') + 1));
}
