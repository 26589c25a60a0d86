/**
 * A relay's sync side for tests: a plain HTTP server with `attachSyncEndpoint` on it, the real
 * SessionValidator, a migrated database and a cache backend the caller chooses. Admin helpers
 * create users, devices (with a valid access token) and revoke devices straight in the
 * database, the way the HTTP side's AuthService does, without scrypt's cost.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { revokeDeviceRows } from '../../server/accounts/devices';
import { SessionValidator } from '../../server/auth/access-tokens';
import { newAccessToken, tokenHash } from '../../server/auth/tokens';
import type { CacheBackend } from '../../server/cache/open-cache';
import { RELAY_DEFAULTS, type RelayConfig } from '../../server/config/relay-config';
import type { Database } from '../../server/db/database';
import { silentLogger, type Logger } from '../../server/observability/logger';
import { RelayMetrics } from '../../server/observability/metrics';
import type { CommandTiming } from '../../server/commands/command-service';
import { attachSyncEndpoint, type SyncEndpoint } from '../../server/sync/sync-endpoint';

export interface SyncRelayOptions {
  db: Database;
  backend: CacheBackend;
  ws?: Partial<RelayConfig['ws']>;
  sync?: Partial<RelayConfig['sync']>;
  commandTiming?: Partial<Omit<CommandTiming, 'defaultTtlMs'>>;
  logger?: Logger;
}

export interface SyncRelay {
  url: string;
  port: number;
  endpoint: SyncEndpoint;
  sessions: SessionValidator;
  metrics: RelayMetrics;
  close(): Promise<void>;
}

/** Starts an HTTP server on 127.0.0.1:0 with the sync endpoint attached. */
export async function startSyncRelay(options: SyncRelayOptions): Promise<SyncRelay> {
  const metrics = new RelayMetrics();
  const logger = options.logger ?? silentLogger;
  const sessions = await SessionValidator.start({
    db: options.db,
    cache: options.backend.cache,
    pubsub: options.backend.pubsub,
    ttlSeconds: 60,
    metrics,
    logger,
  });
  const server: Server = createServer((_req, res) => res.writeHead(404).end());
  const endpoint = attachSyncEndpoint(server, {
    db: options.db,
    cache: options.backend.cache,
    pubsub: options.backend.pubsub,
    logger,
    metrics,
    config: { ws: { ...RELAY_DEFAULTS.ws, ...options.ws }, sync: { ...RELAY_DEFAULTS.sync, ...options.sync } },
    sessions,
    ...(options.commandTiming ? { commandTiming: options.commandTiming } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    url: `ws://127.0.0.1:${port}/v1/sync`,
    port,
    endpoint,
    sessions,
    metrics,
    close() {
      closing ??= (async () => {
        await endpoint.close();
        await sessions.close();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      })();
      return closing;
    },
  };
}

/** A user row (no usable password). */
export async function createTestUser(db: Database): Promise<string> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO users (email, password_hash) VALUES ($1, 'scrypt$test') RETURNING id`,
    [`${randomUUID()}@example.test`],
  );
  return rows[0]!.id;
}

/** A device of `userId` with a session and a valid access token, as sign-in would make them. */
export async function createTestDevice(db: Database, userId: string, ttlSeconds = 3600): Promise<{ deviceId: string; token: string }> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO devices (user_id, name, last_seen_at) VALUES ($1, 'test device', now()) RETURNING id`,
    [userId],
  );
  const deviceId = rows[0]!.id;
  const sessionId = randomUUID();
  const token = newAccessToken(sessionId);
  await db.query(
    `INSERT INTO sessions (id, user_id, device_id, family_id, refresh_token_hash, expires_at, metadata)
     VALUES ($1, $2, $3, $4, $5, now() + interval '1 day', $6::jsonb)`,
    [
      sessionId, userId, deviceId, randomUUID(), tokenHash(randomUUID()),
      JSON.stringify({ accessHash: tokenHash(token), accessExpiresAt: Date.now() + ttlSeconds * 1000 }),
    ],
  );
  return { deviceId, token };
}

/** Revokes a device the way AuthService does: rows, cached sessions, then every relay is told. */
export async function revokeTestDevice(db: Database, sessions: SessionValidator, deviceId: string): Promise<void> {
  const { rows } = await db.query<{ user_id: string }>('SELECT user_id FROM devices WHERE id = $1', [deviceId]);
  const { accessHashes } = await db.transaction((tx) => revokeDeviceRows(tx, rows[0]!.user_id, deviceId, 'revoked'));
  await sessions.forget(accessHashes);
  await sessions.announceRevoked([deviceId]);
}
