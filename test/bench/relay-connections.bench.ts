/**
 * relay.connections.10k.rss_kb_per_conn: resident memory a relay process (a real child process
 * on PostgreSQL + Redis) gains per authenticated device socket, with 10,000 devices connected.
 * The clients run in another child process so their memory is not counted. Baseline: the
 * relay's RSS before the connections, in the same run.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate } from '../../server/db/migrator';
import { openDatabase } from '../../server/db/open-database';
import { createTestDatabase } from '../support/postgres';
import { createUsersInBulk } from '../support/relay-bench';
import { connectTestRedis, deleteKeysWithPrefix, testRedisUrl, uniquePrefix, waitFor } from '../support/redis';
import { startRelayChild } from '../support/sync-relay-process';
import type { Benchmark, Figure } from './figure';

const DEVICES = 10_000;

function rssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
}

/** RSS once it has stopped moving (the relay collects every 500 ms in this benchmark). */
async function settledRss(pid: number): Promise<number> {
  let last = rssKb(pid);
  let stable = 0;
  await waitFor(async () => {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const now = rssKb(pid);
    stable = Math.abs(now - last) < 512 ? stable + 1 : 0;
    last = now;
    return stable >= 3;
  }, 'relay RSS to settle', 60_000, 0);
  return last;
}

export const benchmark: Benchmark = {
  name: 'relay-connections',
  async run(): Promise<Figure[]> {
    const testDb = await createTestDatabase();
    const prefix = uniquePrefix('bench-conn');
    const dir = mkdtempSync(join(tmpdir(), 'relay-conn-bench-'));
    const admin = await openDatabase({ databaseUrl: testDb.url, pool: { max: 4, statementTimeoutMs: 600_000 } });
    try {
      await migrate(admin);
      const users = await createUsersInBulk(admin, DEVICES / 2, 2);
      const devicesFile = join(dir, 'devices.json');
      writeFileSync(devicesFile, JSON.stringify(users.flatMap((u) => u.devices)));
      const relay = await startRelayChild(
        {
          DATABASE_URL: testDb.url, REDIS_URL: testRedisUrl(), REDIS_KEY_PREFIX: prefix, LOG_LEVEL: 'error',
          WS_RATE_LIMIT_PER_SECOND: '1000', WS_RATE_LIMIT_BURST: '1000', RELAY_CHILD_GC_MS: '500',
          SESSION_CACHE_TTL_SECONDS: '600',
        },
        90_000,
        ['--expose-gc'],
      );
      try {
        const before = await settledRss(relay.pid);
        const started = Date.now();
        const clients = spawn(process.execPath, ['--import', 'tsx', join(__dirname, '..', 'support', 'bench-connect-child.ts'), relay.wsUrl, devicesFile], {
          stdio: ['pipe', 'pipe', 'inherit'],
        });
        const report = await new Promise<{ connected: number; failed: number }>((resolve, reject) => {
          let out = '';
          clients.stdout!.on('data', (chunk: Buffer) => {
            out += chunk.toString();
            const line = out.split('\n').find((l) => l.startsWith('{'));
            if (line) resolve(JSON.parse(line) as { connected: number; failed: number });
          });
          clients.once('exit', (code) => reject(new Error(`client process exited ${code}`)));
        });
        const connectSeconds = (Date.now() - started) / 1000;
        const after = await settledRss(relay.pid);
        const metrics = await (await fetch(`${relay.httpUrl}/metrics`)).text();
        const open = Number(/^roo_sync_ws_connections (\d+)/m.exec(metrics)?.[1]);
        clients.stdin!.end();
        await new Promise((resolve) => clients.once('exit', resolve));
        const perConn = (after - before) / report.connected;
        console.log(`${report.connected} devices connected and welcomed in ${connectSeconds.toFixed(1)} s (${report.failed} failed); relay reports ${open} open sockets`);
        console.log(`relay RSS ${before} kB before, ${after} kB with them: ${perConn.toFixed(2)} kB per connection`);
        return [{ name: 'relay.connections.10k.rss_kb_per_conn', value: Math.round(perConn * 100) / 100, unit: 'kB/connection', baseline: Math.round((before / report.connected) * 100) / 100, target: '<= 20' }];
      } finally {
        await relay.kill();
      }
    } finally {
      await admin.close();
      await testDb.drop();
      rmSync(dir, { recursive: true, force: true });
      const redis = await connectTestRedis();
      await deleteKeysWithPrefix(redis, prefix);
      redis.disconnect();
    }
  },
};
