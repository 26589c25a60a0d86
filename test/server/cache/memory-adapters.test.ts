import assert from 'node:assert/strict';
import { MemoryCache } from '../../../server/cache/memory-cache';
import { MemoryPubSub, MemoryPubSubHub } from '../../../server/cache/memory-pubsub';
import { cachePortConformance } from './cache-port.conformance';
import { pubSubPortConformance } from './pubsub-port.conformance';

cachePortConformance('MemoryCache', async () => {
  const cache = new MemoryCache();
  return { cache, teardown: () => cache.close() };
});

pubSubPortConformance('MemoryPubSub on a shared hub', async () => {
  const hub = new MemoryPubSubHub();
  const a = new MemoryPubSub({ hub });
  const b = new MemoryPubSub({ hub });
  return { a, b, teardown: async () => { await a.close(); await b.close(); } };
});

describe('MemoryCache', () => {
  describe('#set', () => {
    it('drops the least recently used entry beyond maxEntries', async () => {
      const cache = new MemoryCache({ maxEntries: 2 });
      await cache.set('a', '1', 60);
      await cache.set('b', '2', 60);
      assert.equal(await cache.get('a'), '1');
      await cache.set('c', '3', 60);
      assert.equal(cache.size, 2);
      assert.equal(await cache.get('b'), null);
      assert.equal(await cache.get('a'), '1');
      assert.equal(await cache.get('c'), '3');
    });

    it('drops expired entries before live ones when full', async () => {
      let now = 1_000;
      const cache = new MemoryCache({ maxEntries: 2, now: () => now });
      await cache.set('old', '1', 1);
      await cache.set('live', '2', 60);
      now += 2_000;
      await cache.set('new', '3', 60);
      assert.equal(await cache.get('live'), '2');
      assert.equal(await cache.get('new'), '3');
      assert.equal(await cache.get('old'), null);
    });
  });
});

describe('MemoryPubSub', () => {
  describe('#publish', () => {
    it('never runs a listener inside publish()', async () => {
      const pubsub = new MemoryPubSub();
      const received: string[] = [];
      await pubsub.subscribe('c', (message) => received.push(message));
      const publishing = pubsub.publish('c', 'm');
      assert.deepEqual(received, []);
      await publishing;
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(received, ['m']);
      await pubsub.close();
    });

    it('does not reach instances on another hub', async () => {
      const a = new MemoryPubSub();
      const b = new MemoryPubSub();
      const received: string[] = [];
      await b.subscribe('c', (message) => received.push(message));
      const sentinel: string[] = [];
      await a.subscribe('c', (message) => sentinel.push(message));
      await a.publish('c', 'm');
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(sentinel, ['m']);
      assert.deepEqual(received, []);
      await a.close();
      await b.close();
    });
  });

  describe('#close', () => {
    it('removes only its own listeners from a shared hub', async () => {
      const hub = new MemoryPubSubHub();
      const a = new MemoryPubSub({ hub });
      const b = new MemoryPubSub({ hub });
      await a.subscribe('c', () => undefined);
      await b.subscribe('c', () => undefined);
      await a.close();
      assert.equal(hub.listenerCount('c'), 1);
      await b.close();
      assert.equal(hub.listenerCount('c'), 0);
    });
  });
});
