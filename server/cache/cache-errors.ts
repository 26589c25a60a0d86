/**
 * Error codes of the cache and pub/sub adapters (all thrown as SyncError).
 *
 * - CACHE_UNAVAILABLE: the cache backend (Redis) is down or did not answer in time; callers
 *   fall back to the database (CachedQuery does so by itself).
 * - CACHE_CLOSED: the cache was used after close().
 * - CACHE_INVALID_ARGUMENT: an empty key or a TTL that is not a positive number of seconds.
 * - PUBSUB_UNAVAILABLE: publish or subscribe failed because the backend (Redis) is down.
 * - PUBSUB_CLOSED: the pub/sub was used after close().
 */
import { SyncError } from '../../core/errors';

export const CacheErrorCode = {
  Unavailable: 'CACHE_UNAVAILABLE',
  Closed: 'CACHE_CLOSED',
  InvalidArgument: 'CACHE_INVALID_ARGUMENT',
  PubSubUnavailable: 'PUBSUB_UNAVAILABLE',
  PubSubClosed: 'PUBSUB_CLOSED',
} as const;

/** Checks a key and TTL the same way in every adapter. */
export function checkEntry(key: string, ttlSeconds: number): void {
  checkKey(key);
  if (typeof ttlSeconds !== 'number' || !Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
    throw new SyncError(CacheErrorCode.InvalidArgument, 'ttlSeconds must be a positive number', { ttlSeconds });
  }
}

export function checkKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0) {
    throw new SyncError(CacheErrorCode.InvalidArgument, 'cache key must be a non-empty string');
  }
}

export function checkChannel(channel: string): void {
  if (typeof channel !== 'string' || channel.length === 0) {
    throw new SyncError(CacheErrorCode.InvalidArgument, 'channel must be a non-empty string');
  }
}
