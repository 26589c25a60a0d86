import assert from 'node:assert/strict';
import { SyncError } from '../../../core/errors';
import { CachedQuery, type CacheStats } from '../../../server/cache/cached-query';
import { MemoryCache } from '../../../server/cache/memory-cache';
import type { Cache } from '../../../server/cache/ports';

/** Counts per cache name. */
function recorder(): CacheStats & { counts: { hit: number; miss: number; error: number } } {
  const counts = { hit: 0, miss: 0, error: 0 };
  return { counts, hit: () => { counts.hit++; }, miss: () => { counts.miss++; }, error: () => { counts.error++; } };
}

/** A MemoryCache that can be switched off, like Redis going away (unit-test stand-in; the real outage is in redis-outage.test.ts). */
class SwitchableCache implements Cache {
  readonly inner = new MemoryCache();
  down = false;
  private readonly listeners = new Set<(healthy: boolean) => void>();

  setDown(down: boolean): void {
    this.down = down;
    for (const listener of this.listeners) listener(!down);
  }

  get(key: string): Promise<string | null> { return this.guard(() => this.inner.get(key)); }
  set(key: string, value: string, ttl: number): Promise<void> { return this.guard(() => this.inner.set(key, value, ttl)); }
  setIfAbsent(key: string, value: string, ttl: number): Promise<string> { return this.guard(() => this.inner.setIfAbsent(key, value, ttl)); }
  del(...keys: string[]): Promise<void> { return this.guard(() => this.inner.del(...keys)); }
  healthy(): boolean { return !this.down; }
  onHealthChange(listener: (healthy: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  close(): Promise<void> { return this.inner.close(); }

  private async guard<T>(run: () => Promise<T>): Promise<T> {
    if (this.down) throw new SyncError('CACHE_UNAVAILABLE', 'down');
    return run();
  }
}

function counter<T>(make: (n: number) => T): { load: () => Promise<T>; calls: () => number } {
  let n = 0;
  return { load: async () => make(++n), calls: () => n };
}

describe('CachedQuery', () => {
  describe('#get', () => {
    it('loads on a miss and serves the cached value on a hit, counting both', async () => {
      const stats = recorder();
      const query = new CachedQuery<{ n: number }>({ cache: new MemoryCache(), name: 'tasks', ttlSeconds: 60, stats });
      const { load, calls } = counter((n) => ({ n }));
      assert.deepEqual(await query.get('u1', load), { n: 1 });
      assert.deepEqual(await query.get('u1', load), { n: 1 });
      assert.deepEqual(await query.get('u2', load), { n: 2 });
      assert.equal(calls(), 2);
      assert.deepEqual(stats.counts, { hit: 1, miss: 2, error: 0 });
    });

    it('shares one load between concurrent callers of the same key', async () => {
      const query = new CachedQuery<number>({ cache: new MemoryCache(), name: 'tasks', ttlSeconds: 60 });
      const { load, calls } = counter((n) => n);
      const results = await Promise.all([query.get('k', load), query.get('k', load), query.get('k', load)]);
      assert.deepEqual(results, [1, 1, 1]);
      assert.equal(calls(), 1);
    });

    it('serves every entry of a burst of concurrent first loads of different keys (their tag versions agree)', async () => {
      const stats = recorder();
      const query = new CachedQuery<string>({ cache: new MemoryCache(), name: 'tasks', ttlSeconds: 60, stats });
      const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);
      await Promise.all(keys.map((key) => query.get(key, async () => key, { tags: ['user:1'] })));
      assert.deepEqual(stats.counts, { hit: 0, miss: 20, error: 0 });
      const again = await Promise.all(keys.map((key) => query.get(key, async () => 'loaded again', { tags: ['user:1'] })));
      assert.deepEqual(again, keys);
      assert.deepEqual(stats.counts, { hit: 20, miss: 20, error: 0 });
    });

    it('propagates the loader error and caches nothing', async () => {
      const query = new CachedQuery<number>({ cache: new MemoryCache(), name: 'tasks', ttlSeconds: 60 });
      await assert.rejects(query.get('k', async () => { throw new SyncError('DB_DOWN', 'no'); }), (error) => (error as SyncError).code === 'DB_DOWN');
      assert.equal(await query.get('k', async () => 7), 7);
    });

    it('does not cache undefined but does cache null', async () => {
      const query = new CachedQuery<number | null | undefined>({ cache: new MemoryCache(), name: 'session', ttlSeconds: 60 });
      let calls = 0;
      await query.get('a', async () => { calls++; return undefined; });
      await query.get('a', async () => { calls++; return undefined; });
      await query.get('b', async () => { calls++; return null; });
      assert.equal(await query.get('b', async () => { calls++; return 5; }), null);
      assert.equal(calls, 3);
    });

    it('honours a per-call TTL', async () => {
      let now = 0;
      const query = new CachedQuery<number>({ cache: new MemoryCache({ now: () => now }), name: 'tasks', ttlSeconds: 60 });
      const { load, calls } = counter((n) => n);
      await query.get('short', load, { ttlSeconds: 1 });
      now += 2_000;
      assert.equal(await query.get('short', load), 2);
      assert.equal(calls(), 2);
    });

    it('counts a backend failure as a miss and an error, and returns the loaded value', async () => {
      const cache = new SwitchableCache();
      const stats = recorder();
      const query = new CachedQuery<string>({ cache, name: 'tasks', ttlSeconds: 60, stats });
      cache.setDown(true);
      assert.equal(await query.get('k', async () => 'from-db'), 'from-db');
      assert.equal(await query.get('k', async () => 'from-db-again'), 'from-db-again');
      assert.deepEqual(stats.counts, { hit: 0, miss: 2, error: 2 });
    });

    it('treats a corrupt stored entry as a miss', async () => {
      const cache = new MemoryCache();
      const query = new CachedQuery<number>({ cache, name: 'tasks', ttlSeconds: 60 });
      await query.get('k', async () => 1);
      await cache.set('q:tasks:k', '{not json', 60);
      assert.equal(await query.get('k', async () => 2), 2);
      assert.equal(await query.get('k', async () => 3), 2);
    });
  });

  describe('#invalidate', () => {
    it('makes the next get load again', async () => {
      const query = new CachedQuery<number>({ cache: new MemoryCache(), name: 'tasks', ttlSeconds: 60 });
      const { load } = counter((n) => n);
      await query.get('k', load);
      await query.invalidate('k');
      assert.equal(await query.get('k', load), 2);
      assert.equal(await query.get('k', load), 2);
    });

    it('lets a caller after the write skip a load that started before it', async () => {
      const query = new CachedQuery<string>({ cache: new MemoryCache(), name: 'tasks', ttlSeconds: 60 });
      let release!: () => void;
      const slow = query.get('k', () => new Promise((resolve) => { release = () => resolve('old'); }));
      await new Promise((resolve) => setImmediate(resolve));
      await query.invalidate('k');
      const fresh = query.get('k', async () => 'new');
      release();
      assert.equal(await slow, 'old');
      assert.equal(await fresh, 'new');
      assert.equal(await query.get('k', async () => 'newer'), 'new');
    });

    it('remembers invalidations that fail while the backend is down and replays them before serving again', async () => {
      const cache = new SwitchableCache();
      const stats = recorder();
      const query = new CachedQuery<string>({ cache, name: 'tasks', ttlSeconds: 60, stats });
      await query.get('k', async () => 'old');
      cache.setDown(true);
      await query.invalidate('k');
      assert.equal(query.pendingInvalidations, 1);
      // Redis comes back holding the stale entry; the replay must drop it before any read.
      cache.down = false;
      assert.equal(await query.get('k', async () => 'new'), 'new');
      assert.equal(query.pendingInvalidations, 0);
      assert.equal(await query.get('k', async () => 'newer'), 'new');
    });

    it('reads past the backend while invalidations are pending', async () => {
      const cache = new SwitchableCache();
      const query = new CachedQuery<string>({ cache, name: 'tasks', ttlSeconds: 60 });
      await query.get('k', async () => 'old');
      cache.setDown(true);
      await query.invalidateTags('user:1');
      // Healthy again but the replay fails once: reads must still not return the stale entry.
      cache.down = false;
      const del = cache.del.bind(cache);
      cache.del = async () => { throw new SyncError('CACHE_UNAVAILABLE', 'flaky'); };
      assert.equal(await query.get('k', async () => 'from-db'), 'from-db');
      cache.del = del;
      cache.setDown(false);
      await query.get('k', async () => 'from-db');
      assert.equal(query.pendingInvalidations, 0);
    });

    it('drops the whole cache on recovery when too many invalidations were missed', async () => {
      const cache = new SwitchableCache();
      const query = new CachedQuery<string>({ cache, name: 'tasks', ttlSeconds: 60, maxPendingInvalidations: 2 });
      await query.get('untouched', async () => 'old');
      cache.setDown(true);
      await query.invalidate('a', 'b', 'c');
      cache.setDown(false);
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(query.pendingInvalidations, 0);
      assert.equal(await query.get('untouched', async () => 'reloaded'), 'reloaded');
    });
  });

  describe('#invalidateTags', () => {
    it('drops every entry carrying the tag, across caches on one backend', async () => {
      const cache = new MemoryCache();
      const tasks = new CachedQuery<string>({ cache, name: 'task-list', ttlSeconds: 60 });
      const meta = new CachedQuery<string>({ cache, name: 'task-meta', ttlSeconds: 60 });
      await tasks.get('u1', async () => 'list-1', { tags: ['user:1'] });
      await meta.get('u1:t1', async () => 'meta-1', { tags: ['user:1'] });
      await meta.get('u2:t1', async () => 'meta-2', { tags: ['user:2'] });
      await tasks.invalidateTags('user:1');
      assert.equal(await tasks.get('u1', async () => 'list-1b', { tags: ['user:1'] }), 'list-1b');
      assert.equal(await meta.get('u1:t1', async () => 'meta-1b', { tags: ['user:1'] }), 'meta-1b');
      assert.equal(await meta.get('u2:t1', async () => 'meta-2b', { tags: ['user:2'] }), 'meta-2');
    });

    it('never serves a value whose load raced with the write', async () => {
      const query = new CachedQuery<string>({ cache: new MemoryCache(), name: 'tasks', ttlSeconds: 60 });
      let release!: () => void;
      const racing = query.get('u1', () => new Promise((resolve) => { release = () => resolve('stale'); }), { tags: ['user:1'] });
      await new Promise((resolve) => setImmediate(resolve));
      await query.invalidateTags('user:1');
      release();
      assert.equal(await racing, 'stale');
      assert.equal(await query.get('u1', async () => 'fresh', { tags: ['user:1'] }), 'fresh');
    });
  });

  describe('#invalidateAll', () => {
    it('drops every entry of this cache only', async () => {
      const cache = new MemoryCache();
      const a = new CachedQuery<string>({ cache, name: 'a', ttlSeconds: 60 });
      const b = new CachedQuery<string>({ cache, name: 'b', ttlSeconds: 60 });
      await a.get('k', async () => 'a1');
      await b.get('k', async () => 'b1');
      await a.invalidateAll();
      assert.equal(await a.get('k', async () => 'a2'), 'a2');
      assert.equal(await b.get('k', async () => 'b2'), 'b1');
    });
  });
});
