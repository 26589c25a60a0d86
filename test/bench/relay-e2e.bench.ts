/**
 * With 1,000 devices connected to one relay (PostgreSQL + Redis) and a load mix running
 * (pushes fanned out to sibling devices, reconnects, authenticated HTTP requests, task-list
 * reads with invalidation on write):
 * - relay.e2e.p50_ms / relay.e2e.p99_ms: device A pushes one change, device B of the same user
 *   receives it live; time from A's send to B's receipt.
 * - relay.cache.hit_rate_pct: hits / (hits + misses) of the session cache (every hello and HTTP
 *   request) and a task-list CachedQuery (Redis, tag-invalidated when the user writes) during
 *   the mix, from the relay's own cache metrics.
 * Baseline for e2e: a ping round trip on the same socket in the same run.
 */
import { performance } from 'node:perf_hooks';
import { CachedQuery } from '../../server/cache/cached-query';
import { openCache } from '../../server/cache/open-cache';
import { BenchWsClient } from '../support/bench-ws-client';
import { createUsersInBulk, startBenchRelay, type BenchUser } from '../support/relay-bench';
import { testRedisUrl, uniquePrefix } from '../support/redis';
import { createRng } from '../support/rng';
import { streamPut } from '../support/sync-client';
import { percentile, type Benchmark, type Figure } from './figure';

const USERS = 500;
const PROBES = 300;

async function counter(metrics: { registry: { getSingleMetric(name: string): unknown } }, name: string, cache: string): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name) as { get(): Promise<{ values: Array<{ labels: Record<string, string>; value: number }> }> };
  const { values } = await metric.get();
  return values.filter((v) => v.labels.cache === cache).reduce((n, v) => n + v.value, 0);
}

export const benchmark: Benchmark = {
  name: 'relay-e2e',
  async run(): Promise<Figure[]> {
    const bench = await startBenchRelay();
    const taskCache = await openCache({ redisUrl: testRedisUrl(), keyPrefix: uniquePrefix('bench-task-list'), waitForReadyMs: 5_000 });
    try {
      const users: BenchUser[] = await createUsersInBulk(bench.admin, USERS, 2);
      const clients = new Map<string, BenchWsClient>();
      const all = users.flatMap((u) => u.devices);
      for (let i = 0; i < all.length; i += 50) {
        await Promise.all(all.slice(i, i + 50).map(async (d) => clients.set(d.deviceId, await BenchWsClient.connect(bench.wsUrl, d))));
      }
      console.log(`${clients.size} devices connected`);
      const metrics = bench.relay.metrics;
      const taskList = new CachedQuery<unknown[]>({ cache: taskCache.cache, name: 'task-list', ttlSeconds: 300, stats: metrics.cacheStats() });
      const readTaskList = (userId: string) =>
        taskList.get(`tasks:${userId}`, async () => (await bench.admin.query('SELECT task_id, metadata FROM conversations WHERE user_id = $1', [userId])).rows, { tags: [`user:${userId}`] });
      // Steady state: every user's task list was read once before the measured window.
      for (let i = 0; i < users.length; i += 50) await Promise.all(users.slice(i, i + 50).map((u) => readTaskList(u.userId)));
      const hits0 = (await counter(metrics, 'roo_sync_cache_hits_total', 'session')) + (await counter(metrics, 'roo_sync_cache_hits_total', 'task-list'));
      const misses0 = (await counter(metrics, 'roo_sync_cache_misses_total', 'session')) + (await counter(metrics, 'roo_sync_cache_misses_total', 'task-list'));

      // The load mix, on the users other than the probe pair.
      const rng = createRng(7);
      const loadUsers = users.slice(1);
      const clientSeqs = new Map<string, number>();
      let stop = false;
      let loadOps = 0;
      const loop = async (everyMs: number, op: () => Promise<unknown>) => {
        while (!stop) {
          const started = performance.now();
          await op().catch(() => undefined);
          loadOps++;
          const left = everyMs - (performance.now() - started);
          if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
        }
      };
      const pushSome = async () => {
        const user = loadUsers[rng.int(0, loadUsers.length - 1)]!;
        const device = user.devices[0]!;
        const seq = (clientSeqs.get(device.deviceId) ?? 0) + 1;
        clientSeqs.set(device.deviceId, seq);
        await clients.get(device.deviceId)!.request({ type: 'push', changes: [streamPut(seq, 'load', seq, 'load change')] });
        if (seq % 10 === 0) await taskList.invalidateTags(`user:${user.userId}`);
      };
      const reconnect = async () => {
        const device = loadUsers[rng.int(0, loadUsers.length - 1)]!.devices[1]!;
        await clients.get(device.deviceId)!.close();
        clients.set(device.deviceId, await BenchWsClient.connect(bench.wsUrl, device));
      };
      const httpRequest = async () => {
        const device = loadUsers[rng.int(0, loadUsers.length - 1)]!.devices[0]!;
        const res = await fetch(`${bench.relay.url}/v1/devices`, { headers: { authorization: `Bearer ${device.token}` } });
        await res.arrayBuffer();
      };
      const taskRead = () => readTaskList(loadUsers[rng.int(0, loadUsers.length - 1)]!.userId);
      const loops = [
        ...Array.from({ length: 2 }, () => loop(10, pushSome)),
        loop(50, reconnect),
        loop(20, httpRequest),
        ...Array.from({ length: 2 }, () => loop(5, taskRead)),
      ];

      const [probeA, probeB] = users[0]!.devices as [{ deviceId: string; token: string }, { deviceId: string; token: string }];
      const a = clients.get(probeA.deviceId)!;
      const b = clients.get(probeB.deviceId)!;
      const e2e: number[] = [];
      const pings: number[] = [];
      const mixStarted = performance.now();
      for (let i = 1; i <= PROBES; i++) {
        const received = new Promise<number>((resolve) => {
          b.onPush = (m) => {
            if (m.type === 'changes' && m.changes.some((c) => c.clientSeq === i)) resolve(performance.now());
          };
        });
        const sent = performance.now();
        void a.request({ type: 'push', changes: [streamPut(i, 'probe', i, `probe ${i}`)] });
        e2e.push((await received) - sent);
        const pingSent = performance.now();
        await a.request({ type: 'ping' });
        pings.push(performance.now() - pingSent);
      }
      const mixSeconds = (performance.now() - mixStarted) / 1000;
      stop = true;
      await Promise.all(loops);
      const hits = (await counter(metrics, 'roo_sync_cache_hits_total', 'session')) + (await counter(metrics, 'roo_sync_cache_hits_total', 'task-list')) - hits0;
      const misses = (await counter(metrics, 'roo_sync_cache_misses_total', 'session')) + (await counter(metrics, 'roo_sync_cache_misses_total', 'task-list')) - misses0;
      const hitRate = (hits / Math.max(1, hits + misses)) * 100;
      await Promise.all([...clients.values()].map((c) => c.close()));
      taskList.close();

      const p50 = percentile(e2e, 50);
      const p99 = percentile(e2e, 99);
      const pingP50 = percentile(pings, 50);
      const pingP99 = percentile(pings, 99);
      console.log(`e2e push A -> live on B with ${all.length} devices connected: p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms (${PROBES} probes)`);
      console.log(`ping round trip, same socket, same run: p50 ${pingP50.toFixed(2)} ms, p99 ${pingP99.toFixed(2)} ms`);
      console.log(`load mix: ${loadOps} operations in ${mixSeconds.toFixed(1)} s (pushes, reconnects, HTTP /v1/devices, task-list reads)`);
      console.log(`cache: ${hits} hits, ${misses} misses = ${hitRate.toFixed(1)}% (session + task-list)`);
      return [
        { name: 'relay.e2e.p50_ms', value: Math.round(p50 * 100) / 100, unit: 'ms', baseline: Math.round(pingP50 * 100) / 100, target: '<= 10' },
        { name: 'relay.e2e.p99_ms', value: Math.round(p99 * 100) / 100, unit: 'ms', baseline: Math.round(pingP99 * 100) / 100, target: '<= 50' },
        { name: 'relay.cache.hit_rate_pct', value: Math.round(hitRate * 10) / 10, unit: '%', baseline: null, target: '>= 95' },
      ];
    } finally {
      await taskCache.close();
      await bench.close();
    }
  },
};
