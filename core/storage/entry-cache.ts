/**
 * The local entry cache: content of synced stream entries by hash, so that entries a stale
 * rewrite dropped can be written back ("a stale rewrite is not a deletion") without asking
 * the relay. Stored in a BlobStore keyed by the entry hash (sha256 of its JSON text).
 */
import type { BlobStore } from '../ports/blob-store';

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
