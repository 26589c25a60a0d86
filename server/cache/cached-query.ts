/**
 * Get-or-load caching of database reads (session validation, task lists, metadata) on any
 * Cache. A write invalidates by key or by tag; hits, misses and backend errors are counted.
 * The cache is an optimisation only: a cache failure counts as a miss and the value is
 * loaded from the database, never failing the request.
 *
 * Tags are version keys: an entry records the version of each of its tags when its load
 * began, and is served only while all of them still match. Invalidating a tag deletes its
 * version, so entries loaded before (even ones stored after the write, by a load that raced
 * with it) are never served again. Invalidating a key deletes that entry only; a load that
 * raced with that write may still store its older value until the TTL ends, so reads that
 * must see a write at once should carry a tag the write invalidates.
 *
 * Invalidations that fail while the backend is down are remembered (bounded) and replayed
 * before the cache is read again; until then reads bypass the cache.
 */
import { randomBytes } from 'node:crypto';
import { silentLogger, type Logger } from '../observability/logger';
import type { Cache } from './ports';

/** Where hit, miss and error counts go (RelayMetrics.cacheStats() in the relay). */
export interface CacheStats {
  hit(cache: string): void;
  miss(cache: string): void;
  /** A backend failure; it is also counted as a miss. */
  error(cache: string): void;
}

export interface CachedQueryOptions {
  cache: Cache;
  /** Names this cache in metrics and keys, e.g. `session`, `task-list`. */
  name: string;
  /** How long a loaded value is served. */
  ttlSeconds: number;
  stats?: CacheStats;
  logger?: Logger;
  /** How long tag versions live; entries whose tag version expired miss once. Default 1 day. */
  tagTtlSeconds?: number;
  /** Most failed invalidations remembered while the backend is down; beyond it the whole cache is invalidated on recovery. Default 1,000. */
  maxPendingInvalidations?: number;
}

export interface GetOptions {
  /** Tags this value depends on (for example `user:<id>`); invalidating any of them drops it. */
  tags?: readonly string[];
  /** Overrides the cache's TTL for this value. */
  ttlSeconds?: number;
}

interface StoredEntry {
  /** The value. */
  v: unknown;
  /** Tag -> version at load time. */
  t: Record<string, string>;
}

const noStats: CacheStats = { hit: () => undefined, miss: () => undefined, error: () => undefined };

export class CachedQuery<T> {
  readonly name: string;
  private readonly cache: Cache;
  private readonly ttlSeconds: number;
  private readonly tagTtlSeconds: number;
  private readonly stats: CacheStats;
  private readonly logger: Logger;
  private readonly maxPending: number;
  /** Implicit tag every entry carries, so the whole cache can be dropped at once. */
  private readonly allTag: string;
  private readonly pendingKeys = new Set<string>();
  private readonly pendingTags = new Set<string>();
  private pendingAll = false;
  private flushing: Promise<void> | undefined;
  /** Loads in flight, shared by concurrent callers of the same key; cleared by any invalidation. */
  private readonly inflight = new Map<string, Promise<T>>();
  private readonly removeHealthListener: (() => void) | undefined;
  /** Bumped by every invalidation here; a load that saw it change does not store its result. */
  private invalidations = 0;

  constructor(options: CachedQueryOptions) {
    this.name = options.name;
    this.cache = options.cache;
    this.ttlSeconds = options.ttlSeconds;
    this.tagTtlSeconds = options.tagTtlSeconds ?? 86_400;
    this.stats = options.stats ?? noStats;
    this.logger = (options.logger ?? silentLogger).child({ component: 'cached-query', cache: options.name });
    this.maxPending = options.maxPendingInvalidations ?? 1_000;
    this.allTag = `cache:${options.name}`;
    this.removeHealthListener = this.cache.onHealthChange?.((healthy) => {
      if (healthy) void this.flushPending();
    });
  }

  /** Returns the cached value of `key`, or runs `load`, caches its result and returns it. `load`'s own errors propagate. */
  async get(key: string, load: () => Promise<T>, options: GetOptions = {}): Promise<T> {
    const flight = this.inflight.get(key);
    if (flight) return flight;
    const started = this.lookup(key, load, options).finally(() => {
      if (this.inflight.get(key) === started) this.inflight.delete(key);
    });
    this.inflight.set(key, started);
    return started;
  }

  /** Drops the entries of `keys`. Never throws: failures are replayed when the backend is back. */
  async invalidate(...keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    this.invalidations++;
    this.inflight.clear();
    try {
      await this.cache.del(...keys.map((key) => this.entryKey(key)));
    } catch (error) {
      this.remember(keys, [], error);
    }
  }

  /** Drops every entry carrying any of `tags`, in every CachedQuery on this backend. Never throws. */
  async invalidateTags(...tags: string[]): Promise<void> {
    if (tags.length === 0) return;
    this.invalidations++;
    this.inflight.clear();
    try {
      await this.cache.del(...tags.map(tagKey));
    } catch (error) {
      this.remember([], tags, error);
    }
  }

  /** Drops every entry of this cache. Never throws. */
  invalidateAll(): Promise<void> {
    return this.invalidateTags(this.allTag);
  }

  /** Invalidations waiting for the backend to come back. */
  get pendingInvalidations(): number {
    return this.pendingKeys.size + this.pendingTags.size + (this.pendingAll ? 1 : 0);
  }

  /** Stops listening to the backend's health. Idempotent; the backend itself is not closed. */
  close(): void {
    this.removeHealthListener?.();
    this.inflight.clear();
  }

  private async lookup(key: string, load: () => Promise<T>, options: GetOptions): Promise<T> {
    const generation = this.invalidations;
    if (this.pendingInvalidations > 0) await this.flushPending();
    if (this.pendingInvalidations > 0) {
      // Stale entries may still sit in the backend: read past it until they are dropped.
      this.stats.miss(this.name);
      return load();
    }
    const tags = [this.allTag, ...(options.tags ?? [])];
    let stored: string | null;
    let versions: Array<string | null>;
    try {
      [stored, ...versions] = await Promise.all([this.cache.get(this.entryKey(key)), ...tags.map((tag) => this.cache.get(tagKey(tag)))]);
    } catch (error) {
      this.failed('read', error);
      return load();
    }
    const hit = stored === null ? undefined : this.decode(stored, tags, versions);
    if (hit) {
      this.stats.hit(this.name);
      return hit.v as T;
    }
    this.stats.miss(this.name);
    let current: Record<string, string>;
    try {
      current = await this.ensureVersions(tags, versions);
    } catch (error) {
      this.stats.error(this.name);
      this.logger.debug('cache tag versions failed', { error });
      return load();
    }
    const value = await load();
    if (value === undefined || generation !== this.invalidations) return value;
    const entry: StoredEntry = { v: value, t: current };
    try {
      await this.cache.set(this.entryKey(key), JSON.stringify(entry), options.ttlSeconds ?? this.ttlSeconds);
    } catch (error) {
      this.stats.error(this.name);
      this.logger.debug('cache store failed', { error });
    }
    return value;
  }

  private decode(stored: string, tags: readonly string[], versions: ReadonlyArray<string | null>): StoredEntry | undefined {
    let entry: StoredEntry;
    try {
      entry = JSON.parse(stored) as StoredEntry;
    } catch {
      return undefined;
    }
    if (entry === null || typeof entry !== 'object' || !('v' in entry) || typeof entry.t !== 'object' || entry.t === null) return undefined;
    for (let i = 0; i < tags.length; i++) {
      const version = versions[i];
      if (version === null || version === undefined || entry.t[tags[i] as string] !== version) return undefined;
    }
    return entry;
  }

  /**
   * Gives every tag without a version a fresh one (before the load starts, so a racing write
   * wins). Set-if-absent: when concurrent loads (on this process or another) create the same
   * tag's version at once, they all end up with the one stored first; with a plain set, the
   * entries of all but the last writer would never be served.
   */
  private async ensureVersions(tags: readonly string[], versions: ReadonlyArray<string | null>): Promise<Record<string, string>> {
    const current: Record<string, string> = {};
    await Promise.all(
      tags.map(async (tag, i) => {
        const known = versions[i];
        current[tag] = known ?? (await this.cache.setIfAbsent(tagKey(tag), randomBytes(8).toString('hex'), this.tagTtlSeconds));
      }),
    );
    return current;
  }

  private remember(keys: readonly string[], tags: readonly string[], error: unknown): void {
    this.stats.error(this.name);
    for (const key of keys) this.pendingKeys.add(key);
    for (const tag of tags) this.pendingTags.add(tag);
    if (this.pendingKeys.size > this.maxPending) {
      this.pendingKeys.clear();
      this.pendingAll = true;
    }
    if (this.pendingTags.size > this.maxPending) {
      // Past this, tags shared with other caches are lost; this cache at least drops everything.
      this.pendingTags.clear();
      this.pendingAll = true;
    }
    this.logger.warn('cache invalidation deferred until the backend is back', { keys: keys.length, tags: tags.length, error });
  }

  private flushPending(): Promise<void> {
    if (!this.cache.healthy()) return Promise.resolve();
    this.flushing ??= this.replay().finally(() => { this.flushing = undefined; });
    return this.flushing;
  }

  private async replay(): Promise<void> {
    const all = this.pendingAll;
    const keys = [...this.pendingKeys];
    const tags = [...this.pendingTags];
    if (!all && keys.length === 0 && tags.length === 0) return;
    const doomed = [
      ...(all ? [tagKey(this.allTag)] : keys.map((key) => this.entryKey(key))),
      ...tags.map(tagKey),
    ];
    try {
      await this.cache.del(...doomed);
    } catch (error) {
      this.logger.debug('cache invalidation replay failed', { error });
      return;
    }
    if (all) this.pendingAll = false;
    for (const key of keys) this.pendingKeys.delete(key);
    for (const tag of tags) this.pendingTags.delete(tag);
  }

  private entryKey(key: string): string {
    return `q:${this.name}:${key}`;
  }

  private failed(op: string, error: unknown): void {
    this.stats.error(this.name);
    this.stats.miss(this.name);
    this.logger.debug(`cache ${op} failed; loading from the database`, { error });
  }
}

function tagKey(tag: string): string {
  return `t:${tag}`;
}
