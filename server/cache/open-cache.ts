/**
 * Chooses the cache and pub/sub adapters for a relay: Redis when a URL (or injected clients)
 * is given, in-process otherwise. The relay starts even while Redis is down: it serves from
 * the database, reports degraded, and the adapters connect when Redis comes up.
 */
import type { Redis } from 'ioredis';
import { silentLogger, type Logger } from '../observability/logger';
import type { RelayMetrics } from '../observability/metrics';
import { HealthSignal } from './health-signal';
import { MemoryCache } from './memory-cache';
import { MemoryPubSub, type MemoryPubSubHub } from './memory-pubsub';
import type { Cache, PubSub } from './ports';
import { RedisCache } from './redis-cache';
import { RedisPubSub } from './redis-pubsub';

export interface CacheBackend {
  /** `redis` when backed by Redis, `memory` for the in-process adapters. */
  readonly kind: 'redis' | 'memory';
  readonly cache: Cache;
  readonly pubsub: PubSub;
  /** True while both cache and pub/sub work (for /readyz: false means degraded, not down). */
  healthy(): boolean;
  /** Told when `healthy()` flips. Returns the remover. */
  onHealthChange(listener: (healthy: boolean) => void): () => void;
  /** Closes both adapters (and the Redis connections they own). Idempotent. */
  close(): Promise<void>;
}

export interface OpenCacheOptions {
  /** Redis URL (RelayConfig.redis.url). Unset and no injected clients: in-process adapters. */
  redisUrl?: string;
  /** ioredis clients the caller owns, instead of a URL: one for commands and publishing, one for subscribing. */
  redisClients?: { client: Redis; subscriber: Redis };
  /** Prefix of keys and channels (RelayConfig.redis.keyPrefix). */
  keyPrefix?: string;
  /** RelayConfig.redis.connectTimeoutMs. */
  connectTimeoutMs?: number;
  /** How long to wait for Redis before returning (degraded) anyway. Default 0: return at once. */
  waitForReadyMs?: number;
  /** In-process mode: share a hub so several relays in one process hear each other (tests). */
  memoryHub?: MemoryPubSubHub;
  logger?: Logger;
  /** Gets its redis_up gauge bound to this backend. */
  metrics?: RelayMetrics;
}

export async function openCache(options: OpenCacheOptions = {}): Promise<CacheBackend> {
  const logger = options.logger ?? silentLogger;
  const useRedis = options.redisUrl !== undefined || options.redisClients !== undefined;
  let backend: CacheBackend;
  if (useRedis) {
    const keyPrefix = options.keyPrefix ?? 'roo-sync:';
    const common = { keyPrefix, channelPrefix: keyPrefix, connectTimeoutMs: options.connectTimeoutMs, logger };
    const cache = options.redisClients
      ? new RedisCache({ ...common, client: options.redisClients.client })
      : new RedisCache({ ...common, url: options.redisUrl });
    const pubsub = options.redisClients
      ? new RedisPubSub({ ...common, publisher: options.redisClients.client, subscriber: options.redisClients.subscriber })
      : new RedisPubSub({ ...common, url: options.redisUrl });
    backend = combine('redis', cache, pubsub);
    const unbind = options.metrics?.bindRedisHealth(() => backend.healthy());
    const close = backend.close;
    backend = { ...backend, close: () => { unbind?.(); return close(); } };
    if (options.waitForReadyMs) await waitUntilHealthy(backend, options.waitForReadyMs);
    logger.info(backend.healthy() ? 'cache and pub/sub on redis' : 'redis not reachable yet; serving from the database', { keyPrefix });
  } else {
    backend = combine('memory', new MemoryCache(), new MemoryPubSub({ hub: options.memoryHub, logger }));
    // The relay's start-up line says it ("embedded mode: single relay process").
    logger.debug('cache and pub/sub in-process (single relay process)');
  }
  return backend;
}

function combine(kind: CacheBackend['kind'], cache: Cache, pubsub: PubSub): CacheBackend {
  const both = (): boolean => cache.healthy() && pubsub.healthy();
  const signal = new HealthSignal(both());
  const removers = [
    cache.onHealthChange?.(() => signal.set(both())),
    pubsub.onHealthChange?.(() => signal.set(both())),
  ];
  let closing: Promise<void> | undefined;
  return {
    kind,
    cache,
    pubsub,
    healthy: both,
    onHealthChange: (listener) => signal.on(listener),
    close: () => {
      closing ??= (async () => {
        for (const remove of removers) remove?.();
        signal.clear();
        await Promise.all([cache.close(), pubsub.close()]);
      })();
      return closing;
    },
  };
}

function waitUntilHealthy(backend: CacheBackend, timeoutMs: number): Promise<void> {
  if (backend.healthy()) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, timeoutMs);
    timer.unref();
    const remove = backend.onHealthChange((healthy) => { if (healthy) done(); });
    function done(): void {
      clearTimeout(timer);
      remove();
      resolve();
    }
  });
}
