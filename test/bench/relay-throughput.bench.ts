/**
 * relay.throughput.changes_per_s: changes per second a relay commits from pushes over
 * /v1/sync (PostgreSQL + Redis, every push acknowledged and fanned out live to a second device
 * of its user), and relay.throughput.vs_raw_insert: that rate over the rate of raw batched
 * INSERTs of the same rows into a copy of the change-log table, measured in the same run.
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'pg';
import { BenchWsClient } from '../support/bench-ws-client';
import { createUsersInBulk, startBenchRelay } from '../support/relay-bench';
import { streamPut } from '../support/sync-client';
import type { Benchmark, Figure } from './figure';

const USERS = 8;
const BATCH = 250;
const PUSHES_PER_USER = 40;
const IN_FLIGHT = 2;

async function pushAll(client: BenchWsClient, taskId: string, firstSeq: number, pushes: number): Promise<number> {
  let next = firstSeq;
  let done = 0;
  const inFlight = new Set<Promise<void>>();
  for (let p = 0; p < pushes; p++) {
    const changes = Array.from({ length: BATCH }, (_, i) => streamPut(next + i, taskId, next + i, `message ${next + i} of a long conversation`));
    next += BATCH;
    const request: Promise<void> = client.request({ type: 'push', changes }).then((reply) => {
      if (reply.type !== 'ack') throw new Error(`push not acknowledged: ${JSON.stringify(reply).slice(0, 200)}`);
      done += reply.accepted.length;
    });
    inFlight.add(request);
    void request.finally(() => inFlight.delete(request)).catch(() => undefined);
    if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  return done;
}

export const benchmark: Benchmark = {
  name: 'relay-throughput',
  async run(): Promise<Figure[]> {
    const bench = await startBenchRelay();
    try {
      const users = await createUsersInBulk(bench.admin, USERS, 2);
      const codecs = (process.env.RELAY_BENCH_CODECS ?? 'brotli,deflate,none').split(',') as never;
      const pushers: BenchWsClient[] = [];
      let liveReceived = 0;
      const receivers: BenchWsClient[] = [];
      for (const user of users) {
        pushers.push(await BenchWsClient.connect(bench.wsUrl, user.devices[0]!, codecs));
        const receiver = await BenchWsClient.connect(bench.wsUrl, user.devices[1]!, codecs);
        receiver.onPush = (m) => {
          if (m.type === 'changes') liveReceived++;
        };
        receivers.push(receiver);
      }
      // Warm-up: connections, prepared plans, JIT.
      await Promise.all(pushers.map((c, i) => pushAll(c, `warm-${i}`, 1, 2)));
      const started = performance.now();
      const counts = await Promise.all(pushers.map((c, i) => pushAll(c, `task-${i}`, 2 * BATCH + 1, PUSHES_PER_USER)));
      const seconds = (performance.now() - started) / 1000;
      const total = counts.reduce((a, b) => a + b, 0);
      const relayRate = total / seconds;
      await Promise.all([...pushers, ...receivers].map((c) => c.close()));

      // Baseline: the same rows as raw batched INSERTs into a copy of sync_operations (same indexes), same concurrency.
      await bench.admin.query('CREATE TABLE raw_ops (LIKE sync_operations INCLUDING ALL)');
      const pool = new Pool({ connectionString: bench.databaseUrl, max: USERS });
      const rawStarted = performance.now();
      await Promise.all(
        users.map(async (user, u) => {
          for (let p = 0; p < PUSHES_PER_USER; p++) {
            const records = Array.from({ length: BATCH }, (_, i) => {
              const seq = p * BATCH + i + 1;
              const change = streamPut(seq, `task-${u}`, seq, `message ${seq} of a long conversation`);
              return { seq, client_seq: seq, base_seq: null, entity: `stream/roo-code/task-${u}/ui/${seq}:0`, change_type: 'stream.put', body: change.body };
            });
            await pool.query(
              `INSERT INTO raw_ops (user_id, device_id, seq, client_seq, base_seq, entity, change_type, body)
               SELECT $1, $2, r.seq, r.client_seq, r.base_seq, r.entity, r.change_type, r.body
                 FROM json_to_recordset($3::json) AS r(seq bigint, client_seq bigint, base_seq bigint, entity text, change_type text, body json)`,
              [user.userId, user.devices[0]!.deviceId, JSON.stringify(records)],
            );
          }
        }),
      );
      const rawSeconds = (performance.now() - rawStarted) / 1000;
      await pool.end();
      const rawRate = (USERS * PUSHES_PER_USER * BATCH) / rawSeconds;

      console.log(`relay: ${total} changes in ${seconds.toFixed(2)} s = ${Math.round(relayRate)} changes/s (${USERS} devices, ${BATCH} per push, ${IN_FLIGHT} in flight, codecs offered ${String(codecs)}; ${liveReceived} live pages fanned out)`);
      console.log(`raw batched INSERT: ${USERS * PUSHES_PER_USER * BATCH} rows in ${rawSeconds.toFixed(2)} s = ${Math.round(rawRate)} rows/s`);
      return [
        { name: 'relay.throughput.changes_per_s', value: Math.round(relayRate), unit: 'changes/s', baseline: Math.round(rawRate), target: '>= 10000' },
        { name: 'relay.throughput.vs_raw_insert', value: Math.round((relayRate / rawRate) * 100) / 100, unit: 'ratio', baseline: Math.round(rawRate), target: '>= 0.5' },
      ];
    } finally {
      await bench.close();
    }
  },
};
