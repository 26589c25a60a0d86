/**
 * `npm run bench -- load [--users N] [--devices N] [--seconds S] [--per-minute M] [--burst B] [--no-baseline]`:
 * issue #15's load figure. 1,000 users x 10 devices (10,000 WebSocket connections) on two relay
 * processes (dist/cli.js server) sharing a PostgreSQL and a Redis of their own on 127.0.0.1;
 * 10,000 messages a minute for 5 minutes plus a burst of 1,000 at the start of each minute
 * after the first. The devices are lean protocol clients (support/bench-ws-client.ts) in one
 * child process (support/bench-load-child.ts), not 10,000 SyncDevices. Reports device-to-device
 * p50/p99 (device 0 pushes, device 1 of the same user, on the other relay, receives the live
 * change), each relay's CPU and RSS (sampled from /proc every second), and PostgreSQL and
 * Redis load (transactions and commands per second over the run).
 * Also printed: PostgreSQL's cost per push alone and in a group-commit statement (measured before
 * the load), push-to-ack latency, pushes per commit, the generator's CPU and event-loop delay,
 * and the bursts on their own (their messages' latencies, time to last ack and delivery, the
 * relays' statements during each burst). `LOAD_RELAY_NODE_ARGS` (space-separated) go before the
 * relays' script, e.g. `--cpu-prof --cpu-prof-dir=DIR` to profile them; `LOAD_GENERATOR_NODE_ARGS`
 * the same for the load generator.
 * `load.users1000x10.p99_ms`: baseline, the same p99 measured in this run with 1 user x 2
 * devices and the same message rate (the relay's floor without the 10,000 connections).
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { Client } from 'pg';
import type { DeviceId, UserId } from '../../core/ids';
import type { ClientChange } from '../../core/model/changes';
import { appendPushes, type PushEntry } from '../../server/db/change-log';
import type { Database } from '../../server/db/database';
import { openDatabase } from '../../server/db/open-database';
import { buildCli } from '../support/cli-process';
import { startPgInstance } from '../support/pg-instance';
import { startRedisInstance } from '../support/redis-instance';
import { createRelayNode, type RelayNode } from '../support/relay-node';
import { createUsersInBulk, type BenchUser } from '../support/relay-bench';
import { streamPut } from '../support/sync-client';
import { outDirArg } from './faults.bench';
import { percentile, type Benchmark, type Figure } from './figure';

const CHILD = join(__dirname, '..', 'support', 'bench-load-child.ts');

function numberArg(args: string[], flag: string, fallback: number): number {
  const at = args.indexOf(flag);
  const value = at >= 0 ? Number(args[at + 1]) : NaN;
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

interface ChildResult {
  latencies: number[];
  ackLatencies: number[];
  /** The burst messages' own latencies (also in `latencies` / `ackLatencies`). */
  burstLatencies: number[];
  burstAckLatencies: number[];
  /** Per burst: ms to send it, and from its start to its last ack and its last delivery. */
  bursts: Array<{ sendMs: number; lastAckMs: number; lastDeliveredMs: number }>;
  loopDelayMs: { p50: number; p99: number; max: number };
  /** The load generator's own CPU, % of a core. */
  cpuPct: number;
  throughput: Array<[number, number]>;
  sent: number;
  received: number;
  errors: number;
  undelivered: number;
}

/** CPU seconds (user + system) and RSS (kB) of a process, from /proc. */
function procSample(pid: number): { cpuS: number; rssKb: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const rss = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return { cpuS: ticks / 100, rssKb: Number(rss?.[1] ?? 0) };
}

/** CPU seconds of a PostgreSQL instance: its postmaster and every process it started (backends, WAL writer, ...). */
function pgCpuSeconds(dataDir: string): number {
  const postmaster = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  // The postmaster's own time plus that of children it already reaped (backends that ended).
  const line = readFileSync(`/proc/${postmaster}/stat`, 'utf8');
  const stat = line.slice(line.lastIndexOf(')') + 2).split(' ');
  let total = (Number(stat[11]) + Number(stat[12]) + Number(stat[13]) + Number(stat[14])) / 100;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === postmaster) total += (Number(fields[11]) + Number(fields[12])) / 100;
    } catch {
      // The process ended meanwhile.
    }
  }
  return total;
}

/** Runs the child with `users`; samples relay CPU/RSS meanwhile. */
async function runLoad(dir: string, relays: RelayNode[], users: BenchUser[], seconds: number, perMinute: number, burst: number, pgDataDir: string, redisPid: number): Promise<{ result: ChildResult; cpuPct: number[]; pgCpuPct: number; peakRssMb: number[]; burstCommits: CommitCounts[]; burstCpu: BurstCpu[] }> {
  const planFile = join(dir, `plan-${users.length}.json`);
  await writeFile(planFile, JSON.stringify({ urls: relays.map((r) => r.url), users, seconds, perMinute, burst }));
  const child = spawn('bash', ['-c', `ulimit -n 65536 2>/dev/null || ulimit -n 20000; exec "${process.execPath}" --max-old-space-size=2048 ${process.env.LOAD_GENERATOR_NODE_ARGS ?? ''} --import tsx "${CHILD}" "${planFile}"`], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  let output: ChildResult | undefined;
  /** The relays' commit counters and every party's CPU from just before each burst to its last ack and delivery. */
  const burstCommits: CommitCounts[] = [];
  const burstCpu: BurstCpu[] = [];
  let beforeBurst: { commits: CommitCounts; cpu: number[]; at: number } | undefined;
  // relay 0, relay 1, ..., the generator, PostgreSQL, Redis: CPU seconds so far.
  const cpuNow = (): number[] => [...relays.map((r) => procSample(r.pid()!).cpuS), procSample(child.pid!).cpuS, pgCpuSeconds(pgDataDir), procSample(redisPid).cpuS];
  let marks = Promise.resolve();
  const onMark = (line: string): void => {
    // In order, one at a time: a burst's counters are read before it is sent and after it is done.
    marks = marks.then(async () => {
      if (line.startsWith('BURST_DONE')) {
        const cpu = cpuNow();
        const at = performance.now();
        const after = await pushCommits(relays);
        const before = beforeBurst!;
        burstCommits.push({
          commits: after.commits - before.commits.commits,
          pushes: after.pushes - before.commits.pushes,
          changes: after.changes - before.commits.changes,
          projectionBatches: after.projectionBatches - before.commits.projectionBatches,
          projectionRows: after.projectionRows - before.commits.projectionRows,
        });
        burstCpu.push({ wallMs: at - before.at, cpuMs: cpu.map((s, i) => (s - before.cpu[i]!) * 1000) });
      } else {
        const commits = await pushCommits(relays);
        beforeBurst = { commits, cpu: cpuNow(), at: performance.now() };
        child.stdin!.write('burst\n');
      }
    }).catch((err: unknown) => console.error(`    burst counters not read: ${String(err)}`));
  };
  const ready = new Promise<void>((resolve, reject) => {
    lines.on('line', (line) => {
      if (line.startsWith('READY')) resolve();
      else if (line.startsWith('BURST')) onMark(line);
      else if (line.startsWith('{')) output = JSON.parse(line) as ChildResult;
    });
    child.once('exit', (code) => reject(new Error(`load child exited (${code}) before READY`)));
  });
  await ready;
  const first = relays.map((r) => procSample(r.pid()!));
  const pgFirst = pgCpuSeconds(pgDataDir);
  let last = first;
  const peakRss = first.map((s) => s.rssKb);
  const started = Date.now();
  const timer = setInterval(() => {
    last = relays.map((r, i) => {
      const sample = procSample(r.pid()!);
      peakRss[i] = Math.max(peakRss[i]!, sample.rssKb);
      return sample;
    });
  }, 1000);
  child.stdin!.write('go\n');
  const exit = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearInterval(timer);
  await marks;
  const pgLast = pgCpuSeconds(pgDataDir);
  if (!output) throw new Error(`load child exited (${exit}) without a result`);
  const elapsed = (Date.now() - started) / 1000;
  return { result: output, pgCpuPct: Math.round(((pgLast - pgFirst) / elapsed) * 1000) / 10, cpuPct: relays.map((_, i) => Math.round(((last[i]!.cpuS - first[i]!.cpuS) / elapsed) * 1000) / 10), peakRssMb: peakRss.map((kb) => Math.round(kb / 1024)), burstCommits, burstCpu };
}

/**
 * What PostgreSQL spends per push of one change, on this database before the load: 500 pushes
 * one statement each (one after another), then 500 other users' pushes in one statement
 * (the group commit's statement). Milliseconds per push, wall time of the statements.
 */
async function pushCostMs(db: Database, users: BenchUser[]): Promise<{ alone: number; grouped: number }> {
  const half = Math.floor(users.length / 2);
  const change = (u: number) => [streamPut(1, `cost-${u}`, 1, 'cost probe')] as ClientChange[];
  const push = (u: number): PushEntry => ({ userId: users[u]!.userId as UserId, deviceId: users[u]!.devices[0]!.deviceId as DeviceId, changes: change(u) });
  let started = performance.now();
  for (let u = 0; u < half; u++) await appendPushes(db, [push(u)]);
  const alone = (performance.now() - started) / half;
  started = performance.now();
  await appendPushes(db, Array.from({ length: users.length - half }, (_, i) => push(half + i)));
  const grouped = (performance.now() - started) / (users.length - half);
  return { alone, grouped };
}

/** CPU of each party over one burst (relays..., generator, PostgreSQL, Redis; /proc ticks of 10 ms) and the wall time. */
interface BurstCpu {
  wallMs: number;
  cpuMs: number[];
}

/** Statements (commits), pushes and changes committed by the relays' group commit; the projector's batches and rows. */
interface CommitCounts {
  commits: number;
  pushes: number;
  changes: number;
  projectionBatches: number;
  projectionRows: number;
}

/** Group-commit counters summed over the relays' /metrics: statements, pushes and changes committed. */
async function pushCommits(relays: RelayNode[]): Promise<CommitCounts> {
  const sum = { commits: 0, pushes: 0, changes: 0, projectionBatches: 0, projectionRows: 0 };
  for (const relay of relays) {
    const text = await (await fetch(`${relay.url}/metrics`)).text();
    const value = (name: string): number => Number(new RegExp(`^roo_sync_${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
    sum.commits += value('push_commits_total');
    sum.pushes += value('push_commit_pushes_total');
    sum.changes += value('push_commit_changes_total');
    sum.projectionBatches += value('projection_batch_duration_seconds_count');
    // One line per change type.
    for (const match of text.matchAll(/^roo_sync_projection_rows_total\{[^}]*\} (\S+)$/gm)) sum.projectionRows += Number(match[1]);
  }
  return sum;
}

/** Where the time goes: push to ack (writing relay + PostgreSQL) and the generator's own event-loop delay. */
function diagnostics(result: ChildResult): string {
  const ack = `push to ack p50 ${percentile(result.ackLatencies, 50).toFixed(1)} ms, p99 ${percentile(result.ackLatencies, 99).toFixed(1)} ms`;
  const loop = result.loopDelayMs;
  return `${ack}; load generator CPU ${result.cpuPct}%, event-loop delay p50 ${loop.p50.toFixed(1)} ms, p99 ${loop.p99.toFixed(1)} ms, max ${loop.max.toFixed(0)} ms`;
}

/**
 * The bursts on their own: device to device and push to ack of the burst messages, the time to
 * send a burst and to its last ack and delivery, and the relays' statements from just before the
 * burst to its last ack (steady pushes sent meanwhile are in that window too).
 */
function burstDiagnostics(result: ChildResult, commits: CommitCounts[], cpu: BurstCpu[]): string {
  if (result.burstLatencies.length === 0) return 'no burst';
  const ms = (values: number[], p: number): string => percentile(values, p).toFixed(1);
  const each = result.bursts.map((b, i) => {
    const c = commits[i];
    const statements = c ? `, ${c.commits} statements for ${c.pushes} pushes, projector ${c.projectionBatches} batches of ${c.projectionRows} rows` : '';
    const u = cpu[i];
    const names = u ? [...u.cpuMs.slice(0, -3).map((_, r) => `relay ${r}`), 'generator', 'PostgreSQL', 'Redis'] : [];
    const usage = u ? `; CPU over ${u.wallMs.toFixed(0)} ms: ${u.cpuMs.map((ms, p) => `${names[p]} ${ms.toFixed(0)}`).join(', ')} ms (sum ${u.cpuMs.reduce((a, b) => a + b, 0).toFixed(0)})` : '';
    return `sent in ${b.sendMs.toFixed(0)} ms, last ack ${b.lastAckMs.toFixed(0)} ms, last delivery ${b.lastDeliveredMs.toFixed(0)} ms${statements}${usage}`;
  });
  return (
    `burst messages: device to device p50 ${ms(result.burstLatencies, 50)} ms, p99 ${ms(result.burstLatencies, 99)} ms; ` +
    `push to ack p50 ${ms(result.burstAckLatencies, 50)} ms, p99 ${ms(result.burstAckLatencies, 99)} ms\n      ` +
    each.map((line, i) => `burst ${i + 1}: ${line}`).join('\n      ')
  );
}

/** Device-to-device latencies of the steady (non-burst) messages. */
function steadyLatencies(result: ChildResult): number[] {
  const burst = [...result.burstLatencies].sort((a, b) => a - b);
  const all = [...result.latencies].sort((a, b) => a - b);
  // Remove one occurrence of each burst latency from the sorted list of all (both sorted: one pass).
  const steady: number[] = [];
  let j = 0;
  for (const value of all) {
    if (j < burst.length && burst[j] === value) j++;
    else steady.push(value);
  }
  return steady;
}

/** Rows in the change log and the bytes it and the read model take on disk (with indexes and TOAST). */
async function changeLogBytes(url: string): Promise<{ rows: number; bytes: number }> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const row = (await client.query<{ rows: string; bytes: string }>(
      "SELECT (SELECT count(*) FROM sync_operations) AS rows, pg_total_relation_size('sync_operations') + pg_total_relation_size('messages') AS bytes",
    )).rows[0]!;
    return { rows: Number(row.rows), bytes: Number(row.bytes) };
  } finally {
    await client.end();
  }
}

export const benchmark: Benchmark = {
  name: 'load',
  async run(args: string[]): Promise<Figure[]> {
    const userCount = numberArg(args, '--users', 1000);
    const devices = numberArg(args, '--devices', 10);
    const seconds = numberArg(args, '--seconds', 300);
    const perMinute = numberArg(args, '--per-minute', 10_000);
    const burst = numberArg(args, '--burst', 1000);
    // --no-baseline skips the 1 user x 2 devices run (quicker iterations; the figure's baseline is then null).
    const withBaseline = !args.includes('--no-baseline');
    await buildCli();
    const dir = await mkdtemp(join(tmpdir(), 'roo-sync-load-'));
    const pg = await startPgInstance({ maxConnections: 300 });
    const redis = await startRedisInstance();
    const redisPid = Number((await redis.info()).process_id);
    const env = { WS_RATE_LIMIT_PER_SECOND: '100000', WS_RATE_LIMIT_BURST: '100000', DB_POOL_MAX: '20', LOG_LEVEL: 'info', DB_SLOW_QUERY_MS: '60000' };
    // LOAD_RELAY_NODE_ARGS (space-separated) go before the relay's script, e.g. "--cpu-prof --cpu-prof-dir=DIR".
    const nodeArgs = process.env.LOAD_RELAY_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
    const relays = [await createRelayNode({ databaseUrl: pg.url, redisUrl: redis.url, env, nodeArgs }), await createRelayNode({ databaseUrl: pg.url, redisUrl: redis.url, env, nodeArgs })];
    try {
      await relays[0]!.start();
      await relays[1]!.start();
      const db = await openDatabase({ databaseUrl: pg.url, pool: { max: 4, statementTimeoutMs: 600_000 } });
      let users: BenchUser[];
      let floorUsers: BenchUser[];
      try {
        users = await createUsersInBulk(db, userCount, devices);
        floorUsers = await createUsersInBulk(db, 1, 2);
        const cost = await pushCostMs(db, await createUsersInBulk(db, 1000, 1));
        console.log(`  PostgreSQL per push of one change: ${cost.alone.toFixed(2)} ms as its own statement, ${cost.grouped.toFixed(3)} ms in a statement of 500 users' pushes`);
      } finally {
        await db.close();
      }
      let floorP99: number | null = null;
      let floorP50: number | null = null;
      if (withBaseline) {
        console.log(`  baseline: 1 user x 2 devices, ${perMinute}/min for ${Math.min(60, seconds)} s`);
        const floor = await runLoad(dir, relays, floorUsers, Math.min(60, seconds), perMinute, 0, pg.dataDir, redisPid);
        floorP99 = percentile(floor.result.latencies, 99);
        floorP50 = percentile(floor.result.latencies, 50);
        console.log(`    p50 ${floorP50.toFixed(1)} ms, p99 ${floorP99.toFixed(1)} ms; ${diagnostics(floor.result)}`);
      } else {
        console.log('  baseline skipped (--no-baseline)');
      }
      const pgBefore = await pg.stats();
      const commitsBefore = await pushCommits(relays);
      const redisBefore = Number((await redis.info()).total_commands_processed);
      console.log(`  ${userCount} users x ${devices} devices (${userCount * devices} connections), ${perMinute}/min for ${seconds} s, bursts of ${burst}`);
      const t0 = Date.now();
      const run = await runLoad(dir, relays, users, seconds, perMinute, burst, pg.dataDir, redisPid);
      const elapsed = (Date.now() - t0) / 1000;
      const pgAfter = await pg.stats();
      const commitsAfter = await pushCommits(relays);
      const statements = commitsAfter.commits - commitsBefore.commits;
      const redisAfter = Number((await redis.info()).total_commands_processed);
      const { result } = run;
      const p50 = percentile(result.latencies, 50);
      const p99 = percentile(result.latencies, 99);
      console.log(`    sent ${result.sent}, delivered ${result.received}, undelivered ${result.undelivered}, errors ${result.errors}`);
      console.log(`    device to device: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms; ${diagnostics(result)}`);
      const steady = steadyLatencies(result);
      if (steady.length > 0) console.log(`    steady messages: device to device p50 ${percentile(steady, 50).toFixed(1)} ms, p99 ${percentile(steady, 99).toFixed(1)} ms`);
      console.log(`    ${burstDiagnostics(result, run.burstCommits, run.burstCpu)}`);
      console.log(`    relays: CPU ${run.cpuPct.join('% / ')}%, peak RSS ${run.peakRssMb.join(' MB / ')} MB`);
      console.log(`    PostgreSQL: CPU ${run.pgCpuPct}% (all its processes), ${((pgAfter.xactCommit - pgBefore.xactCommit) / elapsed).toFixed(0)} commits/s, ${((pgAfter.tupInserted - pgBefore.tupInserted) / elapsed).toFixed(0)} rows inserted/s, database ${(pgAfter.sizeBytes / 1048576).toFixed(0)} MB`);
      console.log(`    group commit: ${statements} push statements for ${commitsAfter.pushes - commitsBefore.pushes} pushes (${((commitsAfter.pushes - commitsBefore.pushes) / Math.max(1, statements)).toFixed(1)} pushes per commit)`);
      console.log(`    Redis: ${((redisAfter - redisBefore) / elapsed).toFixed(0)} commands/s`);
      const storage = await changeLogBytes(pg.url);
      console.log(`    change log: ${storage.rows} rows, ${(storage.bytes / storage.rows).toFixed(0)} bytes per change with indexes (sync_operations + messages read model)`);
      const out = outDirArg(args);
      if (out) await writeFile(join(out, 'load.json'), JSON.stringify({ throughput: result.throughput, latencies: result.latencies }));
      const round = (n: number): number => Math.round(n * 100) / 100;
      const roundOrNull = (n: number | null): number | null => (n === null ? null : round(n));
      const name = `load.users${userCount}x${devices}`;
      return [
        { name: `${name}.p99_ms`, value: round(p99), unit: 'ms', baseline: roundOrNull(floorP99), target: '<= 100' },
        { name: `${name}.p50_ms`, value: round(p50), unit: 'ms', baseline: roundOrNull(floorP50), target: 'none' },
        { name: `${name}.undelivered`, value: result.undelivered, unit: 'messages', baseline: result.sent, target: '== 0' },
      ];
    } finally {
      // SIGTERM: a relay run with --cpu-prof writes its profile on a clean exit.
      for (const relay of relays) await relay.stop();
      await redis.remove();
      await pg.remove();
      await rm(dir, { recursive: true, force: true });
    }
  },
};
