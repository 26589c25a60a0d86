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
 *
 * The devices (their pushes, reconnects and HTTP requests, and the probe pair) run in a child
 * process, test/support/bench-e2e-child.ts, as remote devices would; the task-list reads run
 * here, beside the relay, as before.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { CachedQuery } from '../../server/cache/cached-query';
import { openCache } from '../../server/cache/open-cache';
import { createUsersInBulk, startBenchRelay, type BenchUser } from '../support/relay-bench';
import { testRedisUrl, uniquePrefix } from '../support/redis';
import { createRng } from '../support/rng';
import { percentile, type Benchmark, type Figure } from './figure';

const USERS = 500;
const PROBES = 300;

/** Sum of a relay metric's values, over the series whose labels match `labels` (all series when none given). */
async function metricSum(metric: { get(): Promise<{ values: Array<{ labels: Record<string, unknown>; value: number }> }> }, labels: Record<string, string> = {}): Promise<number> {
  const { values } = await metric.get();
  return values.filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l)).reduce((n, v) => n + v.value, 0);
}

interface DevicesResult {
  e2e: number[];
  pings: number[];
  loadOps: number;
  seconds: number;
}

/**
 * Runs the device process. `onReady` runs once every device is connected; the measured mix
 * starts when it resolves. `onWrote` is called for every `WROTE <userId>` line.
 */
function runDevices(
  args: { wsUrl: string; httpUrl: string; usersFile: string },
  onReady: (devices: number) => Promise<void>,
  onWrote: (userId: string) => void,
): Promise<DevicesResult> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(__dirname, '..', 'support', 'bench-e2e-child.ts'), args.wsUrl, args.httpUrl, args.usersFile, String(PROBES)],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  return new Promise((resolve, reject) => {
    let result: DevicesResult | undefined;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('WROTE ')) onWrote(line.slice(6));
      else if (line.startsWith('READY ')) {
        onReady(Number(line.slice(6))).then(
          () => child.stdin!.end('go\n'),
          (err: unknown) => {
            child.kill();
            reject(err as Error);
          },
        );
      } else if (line.startsWith('{')) result = JSON.parse(line) as DevicesResult;
    });
    child.once('exit', (code) => (code === 0 && result ? resolve(result) : reject(new Error(`e2e devices exited ${code}`))));
  });
}

export const benchmark: Benchmark = {
  name: 'relay-e2e',
  async run(): Promise<Figure[]> {
    const bench = await startBenchRelay();
    const taskCache = await openCache({ redisUrl: testRedisUrl(), keyPrefix: uniquePrefix('bench-task-list'), waitForReadyMs: 5_000 });
    const dir = mkdtempSync(join(tmpdir(), 'relay-e2e-'));
    try {
      const users: BenchUser[] = await createUsersInBulk(bench.admin, USERS, 2);
      const usersFile = join(dir, 'users.json');
      writeFileSync(usersFile, JSON.stringify(users));
      const metrics = bench.relay.metrics;
      const taskList = new CachedQuery<unknown[]>({ cache: taskCache.cache, name: 'task-list', ttlSeconds: 300, stats: metrics.cacheStats() });
      const readTaskList = (userId: string) =>
        taskList.get(`tasks:${userId}`, async () => (await bench.admin.query('SELECT task_id, metadata FROM conversations WHERE user_id = $1', [userId])).rows, { tags: [`user:${userId}`] });
      const cacheCounts = async () => {
        let hits = 0;
        let misses = 0;
        const byCache: Record<string, string> = {};
        for (const cache of ['session', 'task-list']) {
          const h = await metricSum(metrics.cacheHits, { cache });
          const m = await metricSum(metrics.cacheMisses, { cache });
          hits += h;
          misses += m;
          byCache[cache] = `${h}/${m}`;
        }
        return { hits, misses, byCache };
      };

      // The task-list reads of the load mix, on the users other than the probe pair, until the devices are done.
      const rng = createRng(11);
      const loadUsers = users.slice(1);
      let stop = false;
      let reads = 0;
      const readLoop = async (everyMs: number) => {
        while (!stop) {
          const started = performance.now();
          await readTaskList(loadUsers[rng.int(0, loadUsers.length - 1)]!.userId).catch(() => undefined);
          reads++;
          const left = everyMs - (performance.now() - started);
          if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
        }
      };
      let before: { hits: number; misses: number; byCache: Record<string, string> } = { hits: 0, misses: 0, byCache: {} };
      const readLoops: Array<Promise<void>> = [];
      const devices = await runDevices(
        { wsUrl: bench.wsUrl, httpUrl: bench.relay.url, usersFile },
        async (connected) => {
          console.log(`${connected} devices connected (in a child process)`);
          // Steady state: every user's task list was read once before the measured window.
          for (let i = 0; i < users.length; i += 50) await Promise.all(users.slice(i, i + 50).map((u) => readTaskList(u.userId)));
          before = await cacheCounts();
          readLoops.push(readLoop(5), readLoop(5));
        },
        (userId) => void taskList.invalidateTags(`user:${userId}`).catch(() => undefined),
      );
      stop = true;
      await Promise.all(readLoops);
      const after = await cacheCounts();
      // The read-model projector works off the push path: how far behind it is when the window ends.
      const lag = await metricSum(metrics.projectionLag);
      taskList.close();
      const hits = after.hits - before.hits;
      const misses = after.misses - before.misses;
      const hitRate = (hits / Math.max(1, hits + misses)) * 100;
      // Baseline: the hit rate up to the start of the window (connecting and the first reads), in %.
      const hitRateBefore = (before.hits / Math.max(1, before.hits + before.misses)) * 100;

      const p50 = percentile(devices.e2e, 50);
      const p99 = percentile(devices.e2e, 99);
      const pingP50 = percentile(devices.pings, 50);
      const pingP99 = percentile(devices.pings, 99);
      console.log(`e2e push A -> live on B with ${USERS * 2} devices connected: p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms (${PROBES} probes)`);
      console.log(`ping round trip, same socket, same run: p50 ${pingP50.toFixed(2)} ms, p99 ${pingP99.toFixed(2)} ms`);
      console.log(`load mix: ${devices.loadOps + reads} operations in ${devices.seconds.toFixed(1)} s (pushes, reconnects, HTTP /v1/devices, task-list reads)`);
      console.log(`read-model projection lag at the end of the window: ${lag} changes (RELAY_BENCH_PROJECTIONS=off runs without the projector)`);
      console.log(`cache: ${hits} hits, ${misses} misses = ${hitRate.toFixed(1)}% (session + task-list); hits/misses before ${JSON.stringify(before.byCache)} after ${JSON.stringify(after.byCache)}`);
      return [
        { name: 'relay.e2e.p50_ms', value: Math.round(p50 * 100) / 100, unit: 'ms', baseline: Math.round(pingP50 * 100) / 100, target: '<= 10' },
        { name: 'relay.e2e.p99_ms', value: Math.round(p99 * 100) / 100, unit: 'ms', baseline: Math.round(pingP99 * 100) / 100, target: '<= 50' },
        { name: 'relay.cache.hit_rate_pct', value: Math.round(hitRate * 10) / 10, unit: '%', baseline: Math.round(hitRateBefore * 10) / 10, target: '>= 95' },
      ];
    } finally {
      await taskCache.close();
      await bench.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
