/**
 * The Cache port's conformance suite: every adapter (in-process, Redis) must pass it.
 * `setup` gives a fresh, isolated cache per test; `teardown` removes what the test left.
 */
import assert from 'node:assert/strict';
import { isSyncError } from '../../../core/errors';
import type { Cache } from '../../../server/cache/ports';
import { waitFor } from '../../support/redis';

export interface CacheFixture {
  cache: Cache;
  teardown(): Promise<void>;
}

export function cachePortConformance(adapter: string, setup: () => Promise<CacheFixture>): void {
  describe(`Cache port conformance: ${adapter}`, () => {
    let fixture: CacheFixture;
    let cache: Cache;

    beforeEach(async () => {
      fixture = await setup();
      cache = fixture.cache;
    });

    afterEach(async () => {
      await fixture.teardown();
    });

    describe('#get', () => {
      it('returns null for a key never set', async () => {
        assert.equal(await cache.get('missing'), null);
      });

      it('returns exactly the value set, including unicode, empty and large values', async () => {
        const large = 'x'.repeat(200_000);
        await cache.set('unicode', 'ünïcødé ✓ 日本', 60);
        await cache.set('empty', '', 60);
        await cache.set('large', large, 60);
        assert.equal(await cache.get('unicode'), 'ünïcødé ✓ 日本');
        assert.equal(await cache.get('empty'), '');
        assert.equal(await cache.get('large'), large);
      });

      it('rejects an empty key with CACHE_INVALID_ARGUMENT', async () => {
        await assert.rejects(cache.get(''), (error) => isSyncError(error, 'CACHE_INVALID_ARGUMENT'));
      });
    });

    describe('#set', () => {
      it('replaces the previous value of a key', async () => {
        await cache.set('k', 'one', 60);
        await cache.set('k', 'two', 60);
        assert.equal(await cache.get('k'), 'two');
      });

      it('expires a value after its TTL', async () => {
        await cache.set('long', 'stays', 60);
        await cache.set('short', 'goes', 0.05);
        await waitFor(async () => (await cache.get('short')) === null, 'the short TTL to expire', 3_000);
        assert.equal(await cache.get('long'), 'stays');
      });

      it('rejects a TTL that is not a positive number with CACHE_INVALID_ARGUMENT', async () => {
        for (const ttl of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
          await assert.rejects(cache.set('k', 'v', ttl), (error) => isSyncError(error, 'CACHE_INVALID_ARGUMENT'), `ttl ${ttl}`);
        }
        assert.equal(await cache.get('k'), null);
      });
    });

    describe('#setIfAbsent', () => {
      it('stores the value when the key holds nothing and keeps the first value otherwise', async () => {
        assert.equal(await cache.setIfAbsent('k', 'first', 60), 'first');
        assert.equal(await cache.setIfAbsent('k', 'second', 60), 'first');
        assert.equal(await cache.get('k'), 'first');
      });

      it('lets exactly one of many concurrent writers win, and tells all of them its value', async () => {
        const answers = await Promise.all(Array.from({ length: 25 }, (_, i) => cache.setIfAbsent('race', `v${i}`, 60)));
        const stored = await cache.get('race');
        assert.notEqual(stored, null);
        assert.deepEqual(new Set(answers), new Set([stored]));
      });

      it('stores again once the held value expired', async () => {
        await cache.setIfAbsent('short', 'old', 0.05);
        await waitFor(async () => (await cache.get('short')) === null, 'the short TTL to expire', 3_000);
        assert.equal(await cache.setIfAbsent('short', 'new', 60), 'new');
      });

      it('rejects a TTL that is not a positive number with CACHE_INVALID_ARGUMENT', async () => {
        await assert.rejects(cache.setIfAbsent('k', 'v', 0), (error) => isSyncError(error, 'CACHE_INVALID_ARGUMENT'));
        assert.equal(await cache.get('k'), null);
      });
    });

    describe('#del', () => {
      it('removes every key given and ignores keys that do not exist', async () => {
        await cache.set('a', '1', 60);
        await cache.set('b', '2', 60);
        await cache.set('c', '3', 60);
        await cache.del('a', 'b', 'never-set');
        assert.equal(await cache.get('a'), null);
        assert.equal(await cache.get('b'), null);
        assert.equal(await cache.get('c'), '3');
      });

      it('accepts no keys at all', async () => {
        await cache.del();
        await cache.set('a', '1', 60);
        assert.equal(await cache.get('a'), '1');
      });
    });

    describe('#healthy', () => {
      it('is true while open and false after close', async () => {
        assert.equal(cache.healthy(), true);
        await cache.close();
        assert.equal(cache.healthy(), false);
      });
    });

    describe('#close', () => {
      it('can be called twice, and later calls fail with CACHE_CLOSED', async () => {
        await cache.close();
        await cache.close();
        await assert.rejects(cache.get('k'), (error) => isSyncError(error, 'CACHE_CLOSED'));
        await assert.rejects(cache.set('k', 'v', 1), (error) => isSyncError(error, 'CACHE_CLOSED'));
      });
    });
  });
}
