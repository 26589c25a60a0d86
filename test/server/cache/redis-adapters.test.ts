/**
 * The Redis adapters on the real test Redis (TEST_REDIS_URL). Each test works under its own
 * key and channel prefix and deletes its keys afterwards. Redis unreachable = failure.
 */
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { isSyncError } from '../../../core/errors';
import { CachedQuery } from '../../../server/cache/cached-query';
import { RedisCache } from '../../../server/cache/redis-cache';
import { MAX_PUBLISH_BATCH, RedisPubSub } from '../../../server/cache/redis-pubsub';
import { connectTestRedis, deleteKeysWithPrefix, testRedisUrl, uniquePrefix, waitFor } from '../../support/redis';
import { cachePortConformance } from './cache-port.conformance';
import { pubSubPortConformance } from './pubsub-port.conformance';

/** Waits until an adapter that connects on its own reports healthy. */
async function ready(adapter: { healthy(): boolean }): Promise<void> {
  await waitFor(() => adapter.healthy(), 'the Redis adapter to connect', 5_000, 5);
}

cachePortConformance('RedisCache', async () => {
  const admin = await connectTestRedis();
  const keyPrefix = uniquePrefix('cache');
  const cache = new RedisCache({ url: testRedisUrl(), keyPrefix });
  await ready(cache);
  return {
    cache,
    async teardown() {
      await cache.close();
      await deleteKeysWithPrefix(admin, keyPrefix);
      admin.disconnect();
    },
  };
});

pubSubPortConformance('RedisPubSub (two processes on one Redis)', async () => {
  const channelPrefix = uniquePrefix('pubsub');
  const a = new RedisPubSub({ url: testRedisUrl(), channelPrefix });
  const b = new RedisPubSub({ url: testRedisUrl(), channelPrefix });
  await ready(a);
  await ready(b);
  return { a, b, teardown: async () => { await a.close(); await b.close(); } };
});

describe('RedisCache', () => {
  let admin: Redis;
  let keyPrefix: string;

  beforeEach(async () => {
    admin = await connectTestRedis();
    keyPrefix = uniquePrefix('cache-extra');
  });

  afterEach(async () => {
    await deleteKeysWithPrefix(admin, keyPrefix);
    admin.disconnect();
  });

  describe('#set', () => {
    it('stores under the deployment key prefix with the TTL in Redis', async () => {
      const cache = new RedisCache({ url: testRedisUrl(), keyPrefix });
      await ready(cache);
      await cache.set('session:1', 'v', 30);
      assert.equal(await admin.get(`${keyPrefix}session:1`), 'v');
      const ttl = await admin.pttl(`${keyPrefix}session:1`);
      assert.ok(ttl > 25_000 && ttl <= 30_000, `pttl ${ttl}`);
      await cache.close();
    });

    it('keeps two deployments with different prefixes apart', async () => {
      const one = new RedisCache({ url: testRedisUrl(), keyPrefix: `${keyPrefix}one:` });
      const two = new RedisCache({ url: testRedisUrl(), keyPrefix: `${keyPrefix}two:` });
      await ready(one);
      await ready(two);
      await one.set('k', 'from-one', 30);
      assert.equal(await two.get('k'), null);
      assert.equal(await one.get('k'), 'from-one');
      await one.close();
      await two.close();
    });
  });

  describe('#constructor', () => {
    it('rejects options with neither or both of client and url (CACHE_INVALID_ARGUMENT)', () => {
      assert.throws(() => new RedisCache({}), (error) => isSyncError(error, 'CACHE_INVALID_ARGUMENT'));
      assert.throws(() => new RedisCache({ url: testRedisUrl(), client: admin }), (error) => isSyncError(error, 'CACHE_INVALID_ARGUMENT'));
    });
  });

  describe('#close', () => {
    it('leaves an injected client open for its owner', async () => {
      const client = await connectTestRedis();
      const cache = new RedisCache({ client, keyPrefix });
      assert.equal(cache.healthy(), true);
      await cache.set('k', 'v', 30);
      await cache.close();
      assert.equal(await client.get(`${keyPrefix}k`), 'v');
      client.disconnect();
    });
  });
});

describe('RedisPubSub', () => {
  describe('#subscribe', () => {
    it('listens on the prefixed channel of the deployment', async () => {
      const channelPrefix = uniquePrefix('pubsub-extra');
      const admin = await connectTestRedis();
      const pubsub = new RedisPubSub({ url: testRedisUrl(), channelPrefix });
      await ready(pubsub);
      const received: string[] = [];
      await pubsub.subscribe('user:1', (message) => received.push(message));
      assert.equal(await admin.publish(`${channelPrefix}user:1`, 'raw'), 1);
      assert.equal(await admin.publish('user:1', 'unprefixed'), 0);
      await waitFor(() => received.length === 1, 'the prefixed message', 5_000, 5);
      assert.deepEqual(received, ['raw']);
      await pubsub.close();
      admin.disconnect();
    });

    it('works on injected clients and leaves them open on close', async () => {
      const channelPrefix = uniquePrefix('pubsub-injected');
      const publisher = await connectTestRedis();
      const subscriber = await connectTestRedis();
      const pubsub = new RedisPubSub({ publisher, subscriber, channelPrefix });
      assert.equal(pubsub.healthy(), true);
      const received: string[] = [];
      await pubsub.subscribe('c', (message) => received.push(message));
      await pubsub.publish('c', 'm');
      await waitFor(() => received.length === 1, 'the message', 5_000, 5);
      await pubsub.close();
      assert.equal(await publisher.ping(), 'PONG');
      assert.equal(subscriber.status, 'ready');
      publisher.disconnect();
      subscriber.disconnect();
    });
  });

  describe('#publish', () => {
    it('sends the publishes of one tick as pipelines of at most MAX_PUBLISH_BATCH, in order', async () => {
      const channelPrefix = uniquePrefix('pubsub-pipeline');
      const publisher = await connectTestRedis();
      const subscriber = await connectTestRedis();
      let pipelines = 0;
      let plain = 0;
      const makePipeline = publisher.pipeline.bind(publisher);
      publisher.pipeline = ((...args: Parameters<Redis['pipeline']>) => { pipelines++; return makePipeline(...args); }) as Redis['pipeline'];
      const publishOne = publisher.publish.bind(publisher);
      publisher.publish = ((...args: Parameters<Redis['publish']>) => { plain++; return publishOne(...args); }) as Redis['publish'];
      const pubsub = new RedisPubSub({ publisher, subscriber, channelPrefix });
      const received: string[] = [];
      await pubsub.subscribe('c', (message) => received.push(message));
      const sent = Array.from({ length: 2 * MAX_PUBLISH_BATCH + 5 }, (_, i) => `m${i}`);
      await Promise.all(sent.map((m) => pubsub.publish('c', m)));
      assert.equal(pipelines, 3, 'two full pipelines at once, the rest at the end of the tick');
      assert.equal(plain, 0);
      await pubsub.publish('c', 'alone');
      assert.equal(plain, 1, 'a lone publish is a plain PUBLISH');
      await waitFor(() => received.length === sent.length + 1, 'every message', 5_000, 5);
      assert.deepEqual(received, [...sent, 'alone']);
      await pubsub.close();
      publisher.disconnect();
      subscriber.disconnect();
    });

    it('fails every publish of a pipeline while Redis is unreachable (PUBSUB_UNAVAILABLE)', async () => {
      const channelPrefix = uniquePrefix('pubsub-down');
      const publisher = await connectTestRedis();
      const subscriber = await connectTestRedis();
      const pubsub = new RedisPubSub({ publisher, subscriber, channelPrefix });
      const pending = [pubsub.publish('c', 'a'), pubsub.publish('c', 'b')];
      // Queued for the end of the tick; the connection goes away before it is sent.
      publisher.disconnect();
      for (const result of await Promise.allSettled(pending)) {
        assert.equal(result.status, 'rejected');
        assert.ok(isSyncError((result as PromiseRejectedResult).reason, 'PUBSUB_UNAVAILABLE'));
      }
      await pubsub.close();
      subscriber.disconnect();
    });
  });

  describe('#constructor', () => {
    it('refuses one connection for both roles (PUBSUB needs a dedicated subscriber)', async () => {
      const client = await connectTestRedis();
      assert.throws(() => new RedisPubSub({ publisher: client, subscriber: client }), (error) => isSyncError(error, 'CACHE_INVALID_ARGUMENT'));
      assert.throws(() => new RedisPubSub({ publisher: client }), (error) => isSyncError(error, 'CACHE_INVALID_ARGUMENT'));
      client.disconnect();
    });
  });
});

describe('CachedQuery on RedisCache', () => {
  it('sees a tag invalidated by another relay process sharing the Redis', async () => {
    const admin = await connectTestRedis();
    const keyPrefix = uniquePrefix('cached-query');
    const cacheA = new RedisCache({ url: testRedisUrl(), keyPrefix });
    const cacheB = new RedisCache({ url: testRedisUrl(), keyPrefix });
    try {
      await ready(cacheA);
      await ready(cacheB);
      const relayA = new CachedQuery<string[]>({ cache: cacheA, name: 'task-list', ttlSeconds: 60 });
      const relayB = new CachedQuery<string[]>({ cache: cacheB, name: 'task-list', ttlSeconds: 60 });
      assert.deepEqual(await relayA.get('user:1', async () => ['t1'], { tags: ['user:1'] }), ['t1']);
      assert.deepEqual(await relayB.get('user:1', async () => ['never'], { tags: ['user:1'] }), ['t1']);
      // Relay B takes a write for user 1 and invalidates; relay A must reload.
      await relayB.invalidateTags('user:1');
      assert.deepEqual(await relayA.get('user:1', async () => ['t1', 't2'], { tags: ['user:1'] }), ['t1', 't2']);
      assert.deepEqual(await relayB.get('user:1', async () => ['never'], { tags: ['user:1'] }), ['t1', 't2']);
      relayA.close();
      relayB.close();
    } finally {
      await cacheA.close();
      await cacheB.close();
      await deleteKeysWithPrefix(admin, keyPrefix);
      admin.disconnect();
    }
  });
});
