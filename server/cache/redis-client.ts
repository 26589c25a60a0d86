/**
 * ioredis plumbing shared by RedisCache and RedisPubSub: creating an owned client set up to
 * fail fast while Redis is down, tracking a client's health, bounding a command's time, and
 * closing an owned client.
 */
import { Redis } from 'ioredis';
import { SyncError } from '../../core/errors';
import { redactString } from '../observability/redact';
import type { Logger } from '../observability/logger';

export interface RedisClientOptions {
  /** Shown in Redis' CLIENT LIST. */
  connectionName?: string;
  /** Milliseconds to establish a connection. Default 2,000. */
  connectTimeoutMs?: number;
  /** Longest wait between reconnect attempts; attempts never stop. Default 2,000. */
  maxReconnectDelayMs?: number;
}

/**
 * Creates a client that connects at once, retries forever with capped backoff, and fails
 * commands immediately while disconnected (no offline queue, no replay of in-flight commands
 * after a drop) so callers fall back to the database instead of waiting. Channels are
 * resubscribed by RedisPubSub itself, not by ioredis.
 */
export function createRedisClient(url: string, options: RedisClientOptions = {}): Redis {
  const maxDelay = options.maxReconnectDelayMs ?? 2_000;
  return new Redis(url, {
    connectionName: options.connectionName,
    connectTimeout: options.connectTimeoutMs ?? 2_000,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResubscribe: false,
    autoResendUnfulfilledCommands: false,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 10), maxDelay),
  });
}

/** True when the client can run commands now. */
export function isReady(client: Redis): boolean {
  return client.status === 'ready';
}

const STATUS_EVENTS = ['ready', 'connect', 'close', 'end', 'reconnecting', 'error'] as const;

/**
 * Calls `onStatus` on every connection state event of `client`, and logs connection errors
 * at debug level (health flips are logged by the adapters). Returns the remover.
 */
export function watchClient(client: Redis, onStatus: () => void, logger: Logger, role: string): () => void {
  const onError = (error: Error): void => {
    logger.debug('redis connection error', { role, error: redactString(error.message) });
    onStatus();
  };
  const handlers = STATUS_EVENTS.filter((event) => event !== 'error').map((event) => {
    const handler = (): void => onStatus();
    client.on(event, handler);
    return [event, handler] as const;
  });
  client.on('error', onError);
  return () => {
    for (const [event, handler] of handlers) client.off(event, handler);
    client.off('error', onError);
  };
}

/** Runs `command`, rejecting with `makeError()` after `timeoutMs` (timer unref'd). */
export function withTimeout<T>(command: Promise<T>, timeoutMs: number, makeError: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(makeError()), timeoutMs);
    timer.unref();
  });
  // The losing command may still reject later; keep that from becoming an unhandled rejection.
  command.catch(() => undefined);
  return Promise.race([command, timeout]).finally(() => clearTimeout(timer));
}

/** Wraps any failure of a Redis command as a SyncError with `code`; SyncErrors pass through. */
export function asCoded(error: unknown, code: string, op: string): SyncError {
  if (error instanceof SyncError) return error;
  const reason = error instanceof Error ? redactString(error.message) : String(error);
  return new SyncError(code, `redis ${op} failed: ${reason}`, { op, reason }, { cause: error });
}

/** Closes an owned client: QUIT when connected (bounded), otherwise just disconnect. Never throws. */
export async function quitClient(client: Redis, timeoutMs = 1_000): Promise<void> {
  if (client.status === 'end') return;
  if (isReady(client)) {
    try {
      await withTimeout(client.quit(), timeoutMs, () => new Error('quit timed out'));
    } catch {
      // Fall through to a hard disconnect.
    }
  }
  client.disconnect();
}
