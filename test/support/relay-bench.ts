/**
 * Shared set-up of the relay benchmarks (test/bench/relay-*.bench.ts): a real relay
 * (startRelayServer) on a fresh PostgreSQL database and the test Redis, and users, devices and
 * access tokens made in bulk with SQL (sign-in's scrypt would dominate the set-up otherwise).
 */
import { randomUUID } from 'node:crypto';
import { newAccessToken, tokenHash } from '../../server/auth/tokens';
import { loadRelayConfig } from '../../server/config/load-config';
import type { Database } from '../../server/db/database';
import { openDatabase } from '../../server/db/open-database';
import { startRelayServer, type RelayServer } from '../../server/relay-server';
import { createTestDatabase, type TestDatabase } from './postgres';
import { connectTestRedis, deleteKeysWithPrefix, testRedisUrl, uniquePrefix } from './redis';

export interface BenchRelay {
  relay: RelayServer;
  /** `ws://127.0.0.1:PORT/v1/sync`. */
  wsUrl: string;
  /** A second connection pool on the relay's database, for set-up and baselines. */
  admin: Database;
  databaseUrl: string;
  close(): Promise<void>;
}

/** Starts a relay on PostgreSQL + Redis with limits a benchmark does not trip over. */
export async function startBenchRelay(env: Record<string, string> = {}): Promise<BenchRelay> {
  const testDb: TestDatabase = await createTestDatabase();
  const prefix = uniquePrefix('bench');
  const config = loadRelayConfig({
    env: {
      DATABASE_URL: testDb.url,
      REDIS_URL: testRedisUrl(),
      REDIS_KEY_PREFIX: prefix,
      PORT: '0',
      LOG_LEVEL: 'error',
      WS_RATE_LIMIT_PER_SECOND: '1000000',
      WS_RATE_LIMIT_BURST: '1000000',
      DB_POOL_MAX: '16',
      DB_SLOW_QUERY_MS: '60000',
      // RELAY_BENCH_PROJECTIONS=off measures a relay without the read-model projector.
      PROJECTIONS: process.env.RELAY_BENCH_PROJECTIONS ?? 'on',
      ...env,
    },
  });
  const relay = await startRelayServer(config, {}, { compactionIntervalMs: 0 });
  const admin = await openDatabase({ databaseUrl: testDb.url, pool: { max: 16, statementTimeoutMs: 600_000 } });
  return {
    relay,
    wsUrl: `${relay.url.replace('http', 'ws')}/v1/sync`,
    admin,
    databaseUrl: testDb.url,
    async close() {
      await relay.close();
      await admin.close();
      await testDb.drop();
      const redis = await connectTestRedis();
      await deleteKeysWithPrefix(redis, prefix);
      redis.disconnect();
    },
  };
}

export interface BenchUser {
  userId: string;
  devices: Array<{ deviceId: string; token: string }>;
}

/** `users` users with `devicesPerUser` devices each, every device with a valid access token. */
export async function createUsersInBulk(db: Database, users: number, devicesPerUser: number): Promise<BenchUser[]> {
  const { rows: userRows } = await db.query<{ id: string }>(
    `INSERT INTO users (email, password_hash)
     SELECT 'bench-' || g || '-' || $2 || '@example.test', 'scrypt$bench' FROM generate_series(1, $1) g RETURNING id`,
    [users, randomUUID()],
  );
  const { rows: deviceRows } = await db.query<{ id: string; user_id: string }>(
    `INSERT INTO devices (user_id, name)
     SELECT u, 'bench device' FROM unnest($1::uuid[]) u CROSS JOIN generate_series(1, $2) RETURNING id, user_id`,
    [userRows.map((r) => r.id), devicesPerUser],
  );
  const byUser = new Map<string, BenchUser>(userRows.map((r) => [r.id, { userId: r.id, devices: [] }]));
  const sessions: Array<Record<string, unknown>> = [];
  const expires = Date.now() + 6 * 3600_000;
  for (const device of deviceRows) {
    const sessionId = randomUUID();
    const token = newAccessToken(sessionId);
    byUser.get(device.user_id)!.devices.push({ deviceId: device.id, token });
    sessions.push({
      id: sessionId, user_id: device.user_id, device_id: device.id, family_id: randomUUID(), refresh_token_hash: tokenHash(randomUUID()),
      metadata: { accessHash: tokenHash(token), accessExpiresAt: expires },
    });
  }
  for (let i = 0; i < sessions.length; i += 2000) {
    await db.query(
      `INSERT INTO sessions (id, user_id, device_id, family_id, refresh_token_hash, expires_at, metadata)
       SELECT r.id, r.user_id, r.device_id, r.family_id, r.refresh_token_hash, now() + interval '1 day', r.metadata
         FROM json_to_recordset($1::json) AS r(id uuid, user_id uuid, device_id uuid, family_id uuid, refresh_token_hash text, metadata jsonb)`,
      [JSON.stringify(sessions.slice(i, i + 2000))],
    );
  }
  return [...byUser.values()];
}
