/**
 * Cache adapter on Redis (ioredis). Keys carry a per-deployment prefix. While Redis is down
 * every call fails at once with CACHE_UNAVAILABLE (no queueing), so callers fall back to the
 * database; `healthy()` follows the connection.
 */
import type { Redis } from 'ioredis';
import { SyncError } from '../../core/errors';
import { silentLogger, type Logger } from '../observability/logger';
import { CacheErrorCode, checkEntry, checkKey } from './cache-errors';
import { HealthSignal } from './health-signal';
import type { Cache } from './ports';
import { asCoded, createRedisClient, isReady, quitClient, watchClient, withTimeout, type RedisClientOptions } from './redis-client';

export interface RedisCacheOptions extends RedisClientOptions {
  /** A client the caller owns (close() leaves it open). Give either `client` or `url`. */
  client?: Redis;
  /** Redis URL; the cache creates and owns its client. */
  url?: string;
  /** Prepended to every key, one per deployment (for example `roo-sync:prod:`). Default `roo-sync:`. */
  keyPrefix?: string;
  /** Longest wait for one command before it counts as failed. Default 1,000 ms. */
  opTimeoutMs?: number;
  logger?: Logger;
}

export class RedisCache implements Cache {
  readonly keyPrefix: string;
  private readonly client: Redis;
  private readonly ownsClient: boolean;
  private readonly opTimeoutMs: number;
  private readonly logger: Logger;
  private readonly health: HealthSignal;
  private readonly unwatch: () => void;
  private closing: Promise<void> | undefined;

  constructor(options: RedisCacheOptions) {
    if ((options.client === undefined) === (options.url === undefined)) {
      throw new SyncError(CacheErrorCode.InvalidArgument, 'RedisCache needs exactly one of client or url');
    }
    this.keyPrefix = options.keyPrefix ?? 'roo-sync:';
    this.ownsClient = options.client === undefined;
    this.client = options.client ?? createRedisClient(options.url as string, {
      connectionName: options.connectionName ?? 'roo-sync-cache',
      connectTimeoutMs: options.connectTimeoutMs,
      maxReconnectDelayMs: options.maxReconnectDelayMs,
    });
    this.opTimeoutMs = options.opTimeoutMs ?? 1_000;
    this.logger = (options.logger ?? silentLogger).child({ component: 'redis-cache' });
    this.health = new HealthSignal(isReady(this.client));
    this.unwatch = watchClient(this.client, () => this.refreshHealth(), this.logger, 'cache');
  }

  async get(key: string): Promise<string | null> {
    checkKey(key);
    return this.run('get', () => this.client.get(this.keyPrefix + key));
  }

  async set(key: string, value: string, ttlSeconds: number): Promise<void> {
    checkEntry(key, ttlSeconds);
    const ttlMs = Math.max(1, Math.ceil(ttlSeconds * 1000));
    await this.run('set', () => this.client.set(this.keyPrefix + key, String(value), 'PX', ttlMs));
  }

  async setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<string> {
    checkEntry(key, ttlSeconds);
    const ttlMs = Math.max(1, Math.ceil(ttlSeconds * 1000));
    // SET ... NX GET (Redis 7): one atomic command that answers with the value already held, if any.
    const held = await this.run('set', () => this.client.set(this.keyPrefix + key, String(value), 'PX', ttlMs, 'NX', 'GET'));
    return held ?? String(value);
  }

  async del(...keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    keys.forEach(checkKey);
    await this.run('del', () => this.client.del(...keys.map((key) => this.keyPrefix + key)));
  }

  healthy(): boolean {
    return this.closing === undefined && this.health.value;
  }

  onHealthChange(listener: (healthy: boolean) => void): () => void {
    return this.health.on(listener);
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.unwatch();
    this.health.set(false);
    this.health.clear();
    if (this.ownsClient) await quitClient(this.client);
  }

  private async run<T>(op: string, command: () => Promise<T>): Promise<T> {
    if (this.closing) throw new SyncError(CacheErrorCode.Closed, 'cache is closed');
    if (!isReady(this.client)) {
      throw new SyncError(CacheErrorCode.Unavailable, `redis is not connected (${this.client.status})`, { op, status: this.client.status });
    }
    try {
      return await withTimeout(command(), this.opTimeoutMs, () =>
        new SyncError(CacheErrorCode.Unavailable, `redis ${op} timed out after ${this.opTimeoutMs} ms`, { op }));
    } catch (error) {
      throw asCoded(error, CacheErrorCode.Unavailable, op);
    }
  }

  private refreshHealth(): void {
    if (this.closing) return;
    const ready = isReady(this.client);
    if (ready === this.health.value) return;
    if (ready) this.logger.info('redis cache connected');
    else this.logger.warn('redis cache unavailable; serving from the database', { status: this.client.status });
    this.health.set(ready);
  }
}
