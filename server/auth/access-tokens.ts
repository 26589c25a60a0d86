/**
 * Access-token validation for HTTP and WebSocket, and the revocation hook.
 *
 * `validateAccessToken` answers from the Cache port (Redis, or in-process) for up to the
 * session cache TTL, else from the database; hits and misses are counted on the
 * `roo_sync_cache_*_total{cache="session"}` metrics. A cache that is down counts as a miss and
 * the database answers.
 *
 * `onDeviceRevoked` fires on every relay process: a revocation is announced on the PubSub
 * channel `revoked` (Redis: `<keyPrefix>revoked`, for example `roo-sync:revoked`), and each
 * process's validator hands it to its listeners (the sync side closes that device's sockets).
 * The process that revoked fires its own listeners at once, without waiting for the round trip.
 */
import { randomUUID } from 'node:crypto';
import type { Queryable } from '../db/database';
import type { Cache, PubSub, Unsubscribe } from '../cache/ports';
import { silentLogger, type Logger } from '../observability/logger';
import type { RelayMetrics } from '../observability/metrics';
import { accessTokenSessionId, sameHash, tokenHash } from './tokens';

/** Who a valid access token speaks for. */
export interface AuthenticatedDevice {
  userId: string;
  deviceId: string;
  /** When the access token expires, epoch ms: a socket opened with it is closed then (unless re-authenticated). */
  expiresAt?: number;
}

/** PubSub channel of revocations (the adapters add the deployment's prefix). */
export const REVOCATION_CHANNEL = 'revoked';
const CACHE_NAME = 'session';

interface CachedSession {
  u: string;
  d: string;
  /** Access token expiry, epoch ms. */
  e: number;
}

interface RevocationMessage {
  origin: string;
  deviceIds: string[];
}

export interface SessionValidatorOptions {
  db: Queryable;
  cache: Cache;
  pubsub: PubSub;
  /** RelayConfig.cache.sessionTtlSeconds. */
  ttlSeconds: number;
  metrics?: RelayMetrics;
  logger?: Logger;
  /** Epoch ms; tests pin it. */
  now?: () => number;
}

/** The cache key of an access token (its hash: the token itself never reaches Redis). */
export function sessionCacheKey(accessHash: string): string {
  return `session:${accessHash}`;
}

export class SessionValidator {
  private readonly listeners = new Set<(deviceId: string) => void>();
  private readonly origin = randomUUID();
  private readonly logger: Logger;
  private readonly now: () => number;
  private unsubscribe: Unsubscribe | undefined;
  private closing: Promise<void> | undefined;

  private constructor(private readonly options: SessionValidatorOptions) {
    this.logger = options.logger ?? silentLogger;
    this.now = options.now ?? Date.now;
  }

  /**
   * Creates a validator and subscribes to revocations. When pub/sub is down the validator still
   * works for this process; the subscription is retried by the Redis adapter's resubscription.
   */
  static async start(options: SessionValidatorOptions): Promise<SessionValidator> {
    const validator = new SessionValidator(options);
    try {
      validator.unsubscribe = await options.pubsub.subscribe(REVOCATION_CHANNEL, (message) => validator.receive(message));
    } catch (err) {
      validator.logger.warn('revocation channel not subscribed; revocations from other relays are not heard', { err });
    }
    return validator;
  }

  /** The device a token speaks for, or null when it is malformed, unknown, expired or revoked. */
  async validateAccessToken(token: string): Promise<AuthenticatedDevice | null> {
    const sessionId = accessTokenSessionId(token);
    if (!sessionId || this.closing) return null;
    const hash = tokenHash(token);
    const key = sessionCacheKey(hash);
    const cached = await this.readCache(key);
    if (cached) {
      if (cached.e <= this.now()) return null;
      this.options.metrics?.cacheHits.inc({ cache: CACHE_NAME });
      return { userId: cached.u, deviceId: cached.d, expiresAt: cached.e };
    }
    this.options.metrics?.cacheMisses.inc({ cache: CACHE_NAME });
    const { rows } = await this.options.db.query<{ user_id: string; device_id: string; access_hash: string | null; access_expires_at: string | null; used: boolean }>(
      `SELECT s.user_id, s.device_id, s.metadata->>'accessHash' AS access_hash, s.metadata->>'accessExpiresAt' AS access_expires_at,
              s.last_used_at IS NOT NULL AS used
         FROM sessions s
         JOIN devices d ON d.id = s.device_id
         JOIN users u ON u.id = s.user_id
        WHERE s.id = $1 AND s.revoked_at IS NULL AND s.rotated_at IS NULL
          AND d.revoked_at IS NULL AND u.disabled_at IS NULL`,
      [sessionId],
    );
    const row = rows[0];
    if (!row || !row.access_hash || !sameHash(row.access_hash, hash)) return null;
    const expiresAt = Number(row.access_expires_at);
    const now = this.now();
    if (!Number.isFinite(expiresAt) || expiresAt <= now) return null;
    // The first accepted use of a pair ends the refresh reuse grace of the token it was traded
    // for (auth-service): a client that used it did not lose it. Before the answer, so a token
    // accepted once is marked used, whatever cache answers later.
    if (!row.used) await this.options.db.query('UPDATE sessions SET last_used_at = now() WHERE id = $1 AND last_used_at IS NULL', [sessionId]);
    const ttl = Math.min(this.options.ttlSeconds, Math.ceil((expiresAt - now) / 1000));
    await this.writeCache(key, { u: row.user_id, d: row.device_id, e: expiresAt }, ttl);
    return { userId: row.user_id, deviceId: row.device_id, expiresAt };
  }

  /** Calls `listener` with the id of every device revoked on any relay process. Returns the remover. */
  onDeviceRevoked(listener: (deviceId: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Drops cached validations of these access-token hashes (after a rotation, logout or revocation). */
  async forget(accessHashes: readonly (string | null | undefined)[]): Promise<void> {
    const keys = accessHashes.filter((h): h is string => typeof h === 'string' && h.length > 0).map(sessionCacheKey);
    if (keys.length === 0) return;
    try {
      await this.options.cache.del(...keys);
    } catch (err) {
      this.options.metrics?.cacheErrors.inc({ cache: CACHE_NAME });
      this.logger.warn('could not drop cached sessions; they lapse with the cache TTL', { err, count: keys.length });
    }
  }

  /**
   * Tells every relay process (this one at once) that these devices were revoked. Call after the
   * database says so. A pub/sub outage is logged: other processes then stop accepting the
   * devices' tokens when their cached validations lapse (at most the session cache TTL).
   */
  async announceRevoked(deviceIds: readonly string[]): Promise<void> {
    if (deviceIds.length === 0) return;
    this.fire(deviceIds);
    const message: RevocationMessage = { origin: this.origin, deviceIds: [...deviceIds] };
    try {
      await this.options.pubsub.publish(REVOCATION_CHANNEL, JSON.stringify(message));
    } catch (err) {
      this.logger.warn('revocation not published to other relays', { err, devices: deviceIds.length });
    }
  }

  /** Stops listening for revocations. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.listeners.clear();
      const unsubscribe = this.unsubscribe;
      this.unsubscribe = undefined;
      await unsubscribe?.().catch(() => undefined);
    })();
    return this.closing;
  }

  private receive(text: string): void {
    let message: RevocationMessage;
    try {
      message = JSON.parse(text) as RevocationMessage;
    } catch {
      this.logger.warn('malformed revocation message ignored');
      return;
    }
    if (!message || typeof message !== 'object' || message.origin === this.origin || !Array.isArray(message.deviceIds)) return;
    this.fire(message.deviceIds.filter((id): id is string => typeof id === 'string'));
  }

  private fire(deviceIds: readonly string[]): void {
    for (const deviceId of deviceIds) {
      for (const listener of [...this.listeners]) {
        try {
          listener(deviceId);
        } catch (err) {
          this.logger.error('device revocation listener failed', { err, deviceId });
        }
      }
    }
  }

  private async readCache(key: string): Promise<CachedSession | null> {
    try {
      const text = await this.options.cache.get(key);
      if (!text) return null;
      const value = JSON.parse(text) as CachedSession;
      return typeof value?.u === 'string' && typeof value.d === 'string' && typeof value.e === 'number' ? value : null;
    } catch {
      this.options.metrics?.cacheErrors.inc({ cache: CACHE_NAME });
      return null;
    }
  }

  private async writeCache(key: string, value: CachedSession, ttlSeconds: number): Promise<void> {
    if (ttlSeconds <= 0) return;
    try {
      await this.options.cache.set(key, JSON.stringify(value), ttlSeconds);
    } catch {
      this.options.metrics?.cacheErrors.inc({ cache: CACHE_NAME });
    }
  }
}
