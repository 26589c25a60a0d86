/**
 * relay.pull.500of1M.p99_ms: round trip of a `pull` of 500 changes over /v1/sync from random
 * cursors in a 1,000,000-change log (made with one INSERT ... SELECT generate_series), p99 over
 * the run, measured by a device in its own process (test/support/bench-pull-child.ts).
 * Baseline: the p99 of the same page read straight from PostgreSQL in the same run.
 */
import { performance } from 'node:perf_hooks';
import type { UserId } from '../../core/ids';
import { pullChanges } from '../../server/db/change-log';
import { runBenchChild } from '../support/bench-child';
import { createUsersInBulk, startBenchRelay } from '../support/relay-bench';
import { createRng } from '../support/rng';
import { percentile, type Benchmark, type Figure } from './figure';

const LOG_SIZE = 1_000_000;
const PAGE = 500;
const WARMUP = 30;
const SAMPLES = 300;

/** Runs the pulling device in a child process; resolves with its round trips after the warm-up. */
async function pullFromChild(url: string, device: { deviceId: string; token: string }, cursors: number[], codecs: string[]): Promise<number[]> {
  const args = [url, JSON.stringify(device), JSON.stringify(cursors), String(PAGE), String(WARMUP), codecs.join(',')];
  return (await runBenchChild<{ times: number[] }>('bench-pull-child.ts', args)).times;
}

export const benchmark: Benchmark = {
  name: 'relay-pull',
  async run(): Promise<Figure[]> {
    const bench = await startBenchRelay();
    try {
      const [user] = await createUsersInBulk(bench.admin, 1, 1);
      const device = user!.devices[0]!;
      const made = performance.now();
      await bench.admin.query(
        `INSERT INTO sync_operations (user_id, device_id, seq, client_seq, entity, change_type, body)
         SELECT $1, $2, g, g, 'stream/roo-code/t' || (g / 1000) || '/ui/' || g || ':0', 'stream.put',
                json_build_object('type', 'stream.put', 'source', 'roo-code', 'taskId', 't' || (g / 1000), 'stream', 'ui',
                  'key', g || ':0', 'hash', repeat('a', 64), 'entry', json_build_object('ts', g, 'say', 'text', 'text', 'message number ' || g))
           FROM generate_series(1, $3) g`,
        [user!.userId, device.deviceId, LOG_SIZE],
      );
      await bench.admin.query('INSERT INTO sync_log_heads (user_id, seq) VALUES ($1, $2)', [user!.userId, LOG_SIZE]);
      // Pushed changes are projected into the read model as they arrive; rows made with SQL are
      // not, and the relay's projector would spend the run catching up a million of them. Its
      // cursor is set to the head: the steady state of a relay serving this log.
      await bench.admin.query('INSERT INTO read_model_cursors (user_id, seq) VALUES ($1, $2)', [user!.userId, LOG_SIZE]);
      // A log this size is old: autovacuum has set its hint bits and visibility map and written
      // its pages out. Done here, so neither the first read of each page nor a checkpoint or
      // an autovacuum of the fresh rows falls inside the measured pulls.
      await bench.admin.query('VACUUM (ANALYZE) sync_operations');
      await bench.admin.query('CHECKPOINT');
      console.log(`log of ${LOG_SIZE} changes made in ${((performance.now() - made) / 1000).toFixed(1)} s`);

      const rng = createRng(42);
      const cursors = Array.from({ length: WARMUP + SAMPLES }, () => rng.int(0, LOG_SIZE - PAGE));
      const codecs = (process.env.PULL_CODECS ?? 'brotli,deflate,none').split(',');
      const relayTimes = await pullFromChild(bench.wsUrl, device, cursors, codecs);

      const sqlTimes: number[] = [];
      for (let i = 0; i < cursors.length; i++) {
        const started = performance.now();
        await pullChanges(bench.admin, user!.userId as UserId, cursors[i]!, PAGE);
        if (i >= WARMUP) sqlTimes.push(performance.now() - started);
      }
      const p99 = percentile(relayTimes, 99);
      const p50 = percentile(relayTimes, 50);
      const sqlP99 = percentile(sqlTimes, 99);
      console.log(`pull ${PAGE} of ${LOG_SIZE} over /v1/sync: p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms (${SAMPLES} pulls, codecs offered ${codecs.join(",")})`);
      console.log(`same page straight from PostgreSQL: p50 ${percentile(sqlTimes, 50).toFixed(2)} ms, p99 ${sqlP99.toFixed(2)} ms`);
      return [{ name: 'relay.pull.500of1M.p99_ms', value: Math.round(p99 * 100) / 100, unit: 'ms', baseline: Math.round(sqlP99 * 100) / 100, target: '<= 10' }];
    } finally {
      await bench.close();
    }
  },
};
