/**
 * In-process Cache adapter: the embedded default (no REDIS_URL) and the fast fake for unit
 * tests. Bounded by entry count (least recently used goes first) and expires lazily, so it
 * owns no timers.
 */
import { SyncError } from '../../core/errors';
import { CacheErrorCode, checkEntry, checkKey } from './cache-errors';
import type { Cache } from './ports';

export interface MemoryCacheOptions {
  /** Most entries kept; the least recently used are dropped beyond it. Default 10,000. */
  maxEntries?: number;
  /** Milliseconds clock; tests move it to expire entries without waiting. Default Date.now. */
  now?: () => number;
}

interface Entry {
  value: string;
  expiresAt: number;
}

export class MemoryCache implements Cache {
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;
  private readonly now: () => number;
  private closed = false;

  constructor(options: MemoryCacheOptions = {}) {
    this.maxEntries = Math.max(1, options.maxEntries ?? 10_000);
    this.now = options.now ?? Date.now;
  }

  /** Entries held now (expired ones not yet swept included). */
  get size(): number {
    return this.entries.size;
  }

  async get(key: string): Promise<string | null> {
    this.checkOpen();
    checkKey(key);
    const entry = this.entries.get(key);
    if (!entry) return null;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return null;
    }
    // Re-insert to mark as most recently used (Map keeps insertion order).
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  async set(key: string, value: string, ttlSeconds: number): Promise<void> {
    this.checkOpen();
    checkEntry(key, ttlSeconds);
    this.store(key, value, ttlSeconds);
  }

  async setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<string> {
    this.checkOpen();
    checkEntry(key, ttlSeconds);
    // No await between the read and the write: nothing else runs in between.
    const held = this.entries.get(key);
    if (held && held.expiresAt > this.now()) return held.value;
    this.store(key, value, ttlSeconds);
    return String(value);
  }

  /** Writes the entry as the most recently used, evicting past `maxEntries`. */
  private store(key: string, value: string, ttlSeconds: number): void {
    this.entries.delete(key);
    this.entries.set(key, { value: String(value), expiresAt: this.now() + ttlSeconds * 1000 });
    if (this.entries.size > this.maxEntries) this.evict();
  }

  async del(...keys: string[]): Promise<void> {
    this.checkOpen();
    for (const key of keys) this.entries.delete(key);
  }

  healthy(): boolean {
    return !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.entries.clear();
  }

  private evict(): void {
    const now = this.now();
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt <= now) this.entries.delete(key);
    }
    for (const key of this.entries.keys()) {
      if (this.entries.size <= this.maxEntries) break;
      this.entries.delete(key);
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new SyncError(CacheErrorCode.Closed, 'cache is closed');
  }
}
