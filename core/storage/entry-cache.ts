/**
 * The local entry cache: content of synced stream entries by hash, so that entries a stale
 * rewrite dropped can be written back ("a stale rewrite is not a deletion"). Stored in a
 * BlobStore keyed by the entry hash (sha256 of its JSON text): on a device, the durable
 * FsEntryCache in its data folder; what that lacks is asked of the relay (RemoteEntries).
 */
import { STREAM_NAMES, type EntryKey, type StreamName, type TaskSource } from '../model/changes';
import { hashJson } from '../model/hash';
import type { BlobStore } from '../ports/blob-store';
import type { RemoteEntries, RemoteEntry } from '../ports/remote-entries';
import { EntryHashSet } from './entry-cache-index';
import type { SyncState } from './sync-state';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Stores entries under their hash; skips those already cached. */
export async function cacheEntries(cache: BlobStore, entries: ReadonlyArray<{ hash: string; entry: unknown }>): Promise<void> {
  for (const { hash, entry } of entries) {
    if (await cache.has(hash)) continue;
    await cache.put(hash, encoder.encode(JSON.stringify(entry)));
  }
}

/** The cached entry, or undefined when it is not cached (or not valid JSON). */
export async function loadCachedEntry(cache: BlobStore, hash: string): Promise<{ entry: unknown } | undefined> {
  const bytes = await cache.get(hash);
  if (bytes === null) return undefined;
  try {
    return { entry: JSON.parse(decoder.decode(bytes)) as unknown };
  } catch {
    return undefined;
  }
}

/** A synced entry version to load: its key and the hash the sync state tracks for it. */
export interface WantedEntry {
  key: EntryKey;
  hash: string;
}

/**
 * The content of synced entries of one task stream: from the entry cache first, then, for
 * what the cache lacks, from the relay (`remote`), keeping only entries whose content has the
 * hash the sync state tracks (another version is not the one to restore) and caching them.
 * Returns what was found by key and the keys neither had.
 */
export async function loadSyncedEntries(
  cache: BlobStore,
  remote: RemoteEntries | undefined,
  where: { source: TaskSource; taskId: string; stream: StreamName },
  wanted: readonly WantedEntry[],
): Promise<{ found: Map<EntryKey, unknown>; missing: EntryKey[] }> {
  const found = new Map<EntryKey, unknown>();
  const absent: WantedEntry[] = [];
  for (const want of wanted) {
    const cached = await loadCachedEntry(cache, want.hash);
    if (cached) found.set(want.key, cached.entry);
    else absent.push(want);
  }
  if (absent.length > 0 && remote) {
    let fetched: Map<EntryKey, RemoteEntry> = new Map();
    try {
      fetched = await remote.fetch(where.source, where.taskId, where.stream, absent.map((w) => w.key));
    } catch {
      // The relay cannot be asked now (offline, read model off): the entries stay missing and
      // are reported; nothing is written in their place.
    }
    const recovered: Array<{ hash: string; entry: unknown }> = [];
    for (const want of absent) {
      const remote = fetched.get(want.key);
      if (!remote) continue;
      const entry = remote.entry;
      if (hashJson(entry) !== want.hash) continue;
      found.set(want.key, entry);
      recovered.push({ hash: want.hash, entry });
    }
    await cacheEntries(cache, recovered);
  }
  return { found, missing: wanted.filter((w) => !found.has(w.key)).map((w) => w.key) };
}

/**
 * The version of one entry the relay holds now, whatever its hash (cached when found), or
 * undefined when the relay has none or cannot be asked.
 */
export async function relayVersion(
  cache: BlobStore,
  remote: RemoteEntries | undefined,
  where: { source: TaskSource; taskId: string; stream: StreamName },
  key: EntryKey,
): Promise<{ entry: unknown; hash: string; seq: number } | undefined> {
  if (!remote) return undefined;
  let found: RemoteEntry | undefined;
  try {
    found = (await remote.fetch(where.source, where.taskId, where.stream, [key])).get(key);
  } catch {
    return undefined;
  }
  if (!found) return undefined;
  const hash = hashJson(found.entry);
  await cacheEntries(cache, [{ hash, entry: found.entry }]);
  return { entry: found.entry, hash, seq: found.seq };
}

/**
 * Every entry hash the sync state still names (current versions and the earlier versions kept
 * to recognise stale rewrites and cut entries): what the entry cache must keep when compacted.
 */
export function liveEntryHashes(state: SyncState): EntryHashSet {
  const live = new EntryHashSet();
  for (const task of state.allTasks()) {
    for (const stream of STREAM_NAMES) {
      for (const tracked of task.streams[stream].values()) {
        live.add(tracked.hash);
        for (const prev of tracked.prev ?? []) live.add(prev);
      }
    }
    for (const hashes of task.cut.values()) for (const hash of hashes) live.add(hash);
  }
  return live;
}
