/**
 * relay.throughput.changes_per_s: changes per second a relay commits from pushes over
 * /v1/sync (PostgreSQL + Redis, every push acknowledged and fanned out live to a second device
 * of its user; the devices run in a child process), and relay.throughput.vs_raw_insert: that rate over the rate of raw batched
 * INSERTs of the same rows into the change-log table itself (sync_operations: the same indexes,
 * CHECKs and foreign key to users; other users, same concurrency), measured in the same run.
 * Load generation (encoding the devices' push frames, serialising the baseline's statements)
 * happens before the measured windows, on both sides.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Pool } from 'pg';
import type { DeviceId, UserId } from '../../core/ids';
import type { ClientChange } from '../../core/model/changes';
import { appendChanges } from '../../server/db/change-log';
import { runBenchChild } from '../support/bench-child';
import { createUsersInBulk, startBenchRelay } from '../support/relay-bench';
import { streamPut } from '../support/sync-client';
import type { Benchmark, Figure } from './figure';

const USERS = 8;
const BATCH = 250;
const PUSHES_PER_USER = 40;
const IN_FLIGHT = 2;

/** Runs the pushing and receiving devices in a child process (test/support/bench-push-child.ts). */
function runClients(url: string, devicesFile: string, codecs: string): Promise<{ changes: number; seconds: number; live: number; cpuSeconds: number }> {
  return runBenchChild('bench-push-child.ts', [url, devicesFile, String(BATCH), String(PUSHES_PER_USER), String(IN_FLIGHT), codecs]);
}

export const benchmark: Benchmark = {
  name: 'relay-throughput',
  async run(): Promise<Figure[]> {
    const bench = await startBenchRelay();
    const dir = mkdtempSync(join(tmpdir(), 'relay-throughput-'));
    try {
      const users = await createUsersInBulk(bench.admin, USERS, 2);
      const codecs = process.env.RELAY_BENCH_CODECS ?? 'brotli,deflate,none';
      const devicesFile = join(dir, 'devices.json');
      writeFileSync(devicesFile, JSON.stringify({ pushers: users.map((u) => u.devices[0]), receivers: users.map((u) => u.devices[1]) }));
      const relayCpu0 = process.cpuUsage();
      const { changes: total, seconds, live: liveReceived, cpuSeconds: clientCpu } = await runClients(bench.wsUrl, devicesFile, codecs);
      const relayCpuUsage = process.cpuUsage(relayCpu0);
      const relayCpu = (relayCpuUsage.user + relayCpuUsage.system) / 1e6;
      const relayRate = total / seconds;

      // Baseline: the same rows as raw batched INSERTs into sync_operations itself, for other users
      // (a copy made with LIKE ... INCLUDING ALL would lack the foreign key to users, whose check
      // every stored change pays), same concurrency. As for the devices, the statements'
      // parameters are serialised before the measured window.
      const rawUsers = await createUsersInBulk(bench.admin, USERS, 1);
      const pool = new Pool({ connectionString: bench.databaseUrl, max: USERS });
      const rawParams = rawUsers.map((user, u) =>
        Array.from({ length: PUSHES_PER_USER }, (_, p) => {
          const records = Array.from({ length: BATCH }, (_, i) => {
            const seq = p * BATCH + i + 1;
            const change = streamPut(seq, `task-${u}`, seq, `message ${seq} of a long conversation`);
            return { seq, client_seq: seq, base_seq: null, entity: `stream/roo-code/task-${u}/ui/${seq}:0`, change_type: 'stream.put', body: change.body };
          });
          return [user.userId, user.devices[0]!.deviceId, JSON.stringify(records)];
        }),
      );
      const rawStarted = performance.now();
      await Promise.all(
        rawParams.map(async (statements) => {
          for (const params of statements) {
            await pool.query(
              `INSERT INTO sync_operations (user_id, device_id, seq, client_seq, base_seq, entity, change_type, body)
               SELECT $1, $2, r.seq, r.client_seq, r.base_seq, r.entity, r.change_type, r.body
                 FROM json_to_recordset($3::json) AS r(seq bigint, client_seq bigint, base_seq bigint, entity text, change_type text, body json)`,
              params,
            );
          }
        }),
      );
      const rawSeconds = (performance.now() - rawStarted) / 1000;
      await pool.end();
      const rawRate = (USERS * PUSHES_PER_USER * BATCH) / rawSeconds;

      // Where the gap is: the change-log SQL alone (appendChanges straight on a pool, fresh users, same rows and concurrency).
      const direct = await createUsersInBulk(bench.admin, USERS, 1);
      const directPushes = direct.map((_, u) =>
        Array.from({ length: PUSHES_PER_USER }, (_, p) =>
          Array.from({ length: BATCH }, (_, i) => {
            const seq = p * BATCH + i + 1;
            return streamPut(seq, `task-${u}`, seq, `message ${seq} of a long conversation`) as unknown as ClientChange;
          }),
        ),
      );
      const directStarted = performance.now();
      await Promise.all(
        direct.map(async (user, u) => {
          for (const changes of directPushes[u]!) {
            await appendChanges(bench.admin, user.userId as UserId, user.devices[0]!.deviceId as DeviceId, changes);
          }
        }),
      );
      const directRate = (USERS * PUSHES_PER_USER * BATCH) / ((performance.now() - directStarted) / 1000);

      console.log(`relay: ${total} changes in ${seconds.toFixed(2)} s = ${Math.round(relayRate)} changes/s (${USERS} devices, ${BATCH} per push, ${IN_FLIGHT} in flight, codecs offered ${codecs}, clients in a child process; ${liveReceived} live pages fanned out)`);
      console.log(`CPU seconds in that window: relay process ${relayCpu.toFixed(2)}, device process ${clientCpu.toFixed(2)} (of ${(2 * seconds).toFixed(2)} on two cores)`);
      console.log(`raw batched INSERT: ${USERS * PUSHES_PER_USER * BATCH} rows in ${rawSeconds.toFixed(2)} s = ${Math.round(rawRate)} rows/s`);
      console.log(`appendChanges (server/db/change-log.ts) called directly, same rows: ${Math.round(directRate)} changes/s = ${(directRate / rawRate).toFixed(2)} of raw`);
      return [
        { name: 'relay.throughput.changes_per_s', value: Math.round(relayRate), unit: 'changes/s', baseline: Math.round(rawRate), target: '>= 10000' },
        { name: 'relay.throughput.vs_raw_insert', value: Math.round((relayRate / rawRate) * 100) / 100, unit: 'ratio (relay changes/s / raw insert rows/s)', baseline: Math.round((directRate / rawRate) * 100) / 100, target: '>= 0.5' },
      ];
    } finally {
      await bench.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
