/**
 * The deployment a fault scenario runs on, all real processes on 127.0.0.1: a PostgreSQL and a
 * Redis of its own, two relay processes (dist/cli.js server) on them, and the fault proxy in
 * front (devices reach the relays only through it). `devices(n)` makes a new account and `n`
 * `roo-sync sync` devices of it, each with an assistant workload on its store. `close()` stops
 * everything it started and removes every folder.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { AssistantWorkload } from './assistant-workload';
import { buildCli, runCli, machineIn } from './cli-process';
import { createFaultDevice, type FaultDevice } from './fault-device';
import { startFaultProxy, type FaultProxy } from './fault-proxy';
import { startPgInstance, type PgInstance } from './pg-instance';
import { startRedisInstance, type RedisInstance } from './redis-instance';
import { createRelayNode, type RelayNode } from './relay-node';

export const FAULT_PASSWORD = 'fault-suite-password-1';

export interface Peer {
  device: FaultDevice;
  assistant: AssistantWorkload;
  /** This device's own link to the relays (partition one device without the others). */
  link: FaultProxy;
}

export interface FaultWorld {
  root: string;
  pg: PgInstance;
  redis: RedisInstance;
  relays: RelayNode[];
  proxy: FaultProxy;
  /** A new account with `n` devices (started), each behind its own proxy to the relays, and their assistants. */
  devices(n: number, label: string): Promise<Peer[]>;
  /** How many of `texts` the relay's change log holds (stream puts naming them). */
  acknowledged(texts: Iterable<string>): Promise<number>;
  /**
   * Token refreshes since `since` (epoch ms) from the relay's audit log: `graced`, a rotated token
   * presented again within the reuse grace; `reused`, one presented again outside it (the device
   * was revoked).
   */
  refreshReuse(since: number): Promise<{ graced: number; reused: number }>;
  close(): Promise<void>;
}

export async function startFaultWorld(options: { relayEnv?: Record<string, string> } = {}): Promise<FaultWorld> {
  await buildCli();
  const root = await mkdtemp(join(tmpdir(), 'roo-sync-faults-'));
  const closers: Array<() => Promise<void>> = [async () => { await rm(root, { recursive: true, force: true }); }];
  const close = async (): Promise<void> => {
    for (const closer of closers.splice(0).reverse()) await closer().catch(() => undefined);
  };
  try {
    const pg = await startPgInstance();
    closers.push(() => pg.remove());
    const redis = await startRedisInstance();
    closers.push(() => redis.remove());
    const env = { WS_RATE_LIMIT_PER_SECOND: '1000', WS_RATE_LIMIT_BURST: '5000', ...options.relayEnv };
    const relays = [await createRelayNode({ databaseUrl: pg.url, redisUrl: redis.url, env }), await createRelayNode({ databaseUrl: pg.url, redisUrl: redis.url, env })];
    for (const relay of relays) closers.push(() => relay.kill());
    await relays[0]!.start();
    await relays[1]!.start();
    const proxy = await startFaultProxy(relays.map((r) => ({ host: '127.0.0.1', port: r.port })));
    closers.push(() => proxy.close());
    const admin = await machineIn(join(root, 'admin'));
    let accounts = 0;
    const allDevices: FaultDevice[] = [];
    closers.push(async () => { for (const d of allDevices) await d.kill(); });
    return {
      root,
      pg,
      redis,
      relays,
      proxy,
      async devices(n, label) {
        const email = `${label}-${++accounts}@faults.example.com`;
        const added = await runCli(admin, ['user', 'add', email, '--database-url', pg.url], { input: `${FAULT_PASSWORD}\n` });
        if (added.code !== 0) throw new Error(`user add failed: ${added.stderr}`);
        const peers: Peer[] = [];
        for (let i = 0; i < n; i++) {
          const link = await startFaultProxy([{ host: '127.0.0.1', port: proxy.port }], { seed: i + 1 });
          closers.push(() => link.close());
          const device = await createFaultDevice(join(root, `${label}-${accounts}`), `dev${i}`, link.url, email, FAULT_PASSWORD);
          allDevices.push(device);
          await device.start();
          peers.push({ device, assistant: new AssistantWorkload(device.storePath, `${label}${i}`, i, n), link });
        }
        return peers;
      },
      async acknowledged(texts) {
        const client = new Client({ connectionString: pg.url, connectionTimeoutMillis: 5000 });
        await client.connect();
        const found = new Set<string>();
        try {
          const rows = await client.query<{ body: string }>("SELECT body::text AS body FROM sync_operations WHERE change_type = 'stream.put'");
          for (const { body } of rows.rows) for (const m of body.matchAll(/fx\|[^"\\]+/g)) found.add(m[0]);
        } finally {
          await client.end();
        }
        let count = 0;
        for (const text of texts) if (found.has(text)) count++;
        return count;
      },
      async refreshReuse(since) {
        const client = new Client({ connectionString: pg.url, connectionTimeoutMillis: 5000 });
        await client.connect();
        try {
          const { rows } = await client.query<{ graced: string; reused: string }>(
            `SELECT count(*) FILTER (WHERE action = 'auth.refresh' AND metadata->>'reuseGrace' = 'true') AS graced,
                    count(*) FILTER (WHERE action = 'auth.refresh.reuse') AS reused
               FROM audit_log WHERE created_at >= to_timestamp($1 / 1000.0)`,
            [since],
          );
          return { graced: Number(rows[0]!.graced), reused: Number(rows[0]!.reused) };
        } finally {
          await client.end();
        }
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
