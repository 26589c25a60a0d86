/**
 * `npm run bench -- migrate`: the CLI's migration and backfill against a real relay on
 * PostgreSQL + Redis, on stores from the generator (test/support/store-generator.ts):
 * - migrate.throughput_mb_per_s: `roo-sync migrate` (the built dist/cli.js, a child process)
 *   of a 1 GB / 5,000-task Roo Code store, MB of task files per second; baseline: reading and
 *   hashing the same store without uploading (FsTaskStore.readTask of every task), same run.
 * - migrate.peak_rss_mb.250MB / .1GB: the migrating process's peak RSS (its own maxRSS, written
 *   at exit by a preloaded hook) for a 250 MB / 1,250-task and the 1 GB store; the 1 GB figure
 *   should be at most 1.2x the 250 MB one (baseline of the 1 GB figure: the 250 MB one).
 * - backfill.throughput_mb_per_s: `roo-sync backfill` of the 1 GB store into an empty one on a
 *   second machine.
 * `--small` runs 1/10 of the sizes (a quick check; the figures are named the same).
 *
 * Each migrate and backfill line also gives every party's CPU seconds (user + system) next to
 * the wall time: the CLI child, the relay (this process, which does nothing else meanwhile)
 * and the PostgreSQL backends of the relay's database. ROO_SYNC_BENCH_CLI_NODE_ARGS passes
 * node options to the CLI child (split on spaces), e.g.
 * `ROO_SYNC_BENCH_CLI_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof"`; the relay is profiled
 * by running the bench itself under `node --cpu-prof --import tsx test/bench/run.ts migrate`.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { TaskId } from '../../core/ids';
import { FsTaskStore } from '../../core/node/stores/fs-task-store';
import { layoutOf } from '../../core/stores/layouts';
import { createUser } from '../../server/accounts/users';
import type { Database } from '../../server/db/database';
import { buildCli, CLI_BUNDLE, machineIn, runCli, type Machine } from '../support/cli-process';
import { startBenchRelay } from '../support/relay-bench';
import { generateStore, type GeneratedStore } from '../support/store-generator';
import { watchPostgresCpu } from '../support/party-cpu';
import type { Benchmark, Figure } from './figure';

const PASSWORD = 'bench password 1';

/** Wall time, peak RSS and each party's CPU seconds of one CLI run. */
interface CliRun {
  seconds: number;
  peakRssMb: number;
  stdout: string;
  /** CPU seconds (user + system) of the CLI child, the relay (this process) and its PostgreSQL backends. */
  cpu: { cli: number; relay: number; postgres: number; /** The autovacuum workers' part of `postgres`. */ autovacuum: number };
}

/** Node options for the CLI child from ROO_SYNC_BENCH_CLI_NODE_ARGS (e.g. `--cpu-prof --cpu-prof-dir=DIR`). */
function cliNodeArgs(): string[] {
  return (process.env.ROO_SYNC_BENCH_CLI_NODE_ARGS ?? '').split(' ').filter((a) => a.length > 0);
}

/** Runs `roo-sync <args>` measuring its wall time, peak RSS and each party's CPU. */
async function measuredCli(machine: Machine, args: string[], db: Database): Promise<CliRun> {
  const stamp = `${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const rssFile = join(machine.home, `rss-${stamp}.txt`);
  const cpuFile = join(machine.home, `cpu-${stamp}.json`);
  const postgres = watchPostgresCpu(db);
  const relayCpu0 = process.cpuUsage();
  const started = performance.now();
  const child = spawn(process.execPath, [...cliNodeArgs(), '--require', join(__dirname, '..', 'support', 'report-peak-rss.cjs'), CLI_BUNDLE, ...args], {
    cwd: machine.home,
    env: { ...machine.env, ROO_SYNC_BENCH_RSS_FILE: rssFile, ROO_SYNC_BENCH_CPU_FILE: cpuFile },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  const seconds = (performance.now() - started) / 1000;
  const relayCpu = process.cpuUsage(relayCpu0);
  const postgresCpu = await postgres.stop();
  if (code !== 0) throw new Error(`roo-sync ${args.join(' ')} exited ${code}: ${stdout}`);
  const cliCpu = JSON.parse(await readFile(cpuFile, 'utf8')) as { user: number; system: number };
  return {
    seconds,
    peakRssMb: Number(await readFile(rssFile, 'utf8')),
    stdout,
    cpu: { cli: cliCpu.user + cliCpu.system, relay: (relayCpu.user + relayCpu.system) / 1e6, postgres: postgresCpu.total, autovacuum: postgresCpu.byType['autovacuum worker'] ?? 0 },
  };
}

/** `wall 12.3 s, CPU cli 8.1 s + relay 9.0 s + postgres 2.2 s (autovacuum 0.4 s), load 1.2` for a progress line. */
function costs(run: CliRun): string {
  const c = run.cpu;
  return `wall ${run.seconds.toFixed(1)} s, CPU cli ${c.cli.toFixed(1)} s + relay ${c.relay.toFixed(1)} s + postgres ${c.postgres.toFixed(1)} s (autovacuum ${c.autovacuum.toFixed(1)} s), load ${loadavg()[0]!.toFixed(2)}`;
}

/** Reads and hashes every task (what migrate must do anyway), MB/s. */
async function readAndHash(store: GeneratedStore): Promise<number> {
  const fs = new FsTaskStore({ source: store.source, basePath: store.basePath });
  const started = performance.now();
  for (const id of await fs.listTaskIds()) await fs.readTask(id as TaskId);
  return store.bytes / 1e6 / ((performance.now() - started) / 1000);
}

export const benchmark: Benchmark = {
  name: 'migrate',
  async run(args) {
    const scale = args.includes('--small') ? 0.1 : 1;
    await buildCli();
    const relay = await startBenchRelay();
    const root = await mkdtemp(join(tmpdir(), 'roo-sync-bench-migrate-'));
    const figures: Figure[] = [];
    try {
      const login = async (name: string, email: string): Promise<Machine> => {
        const machine = await machineIn(join(root, name));
        const r = await runCli(machine, ['login', '--server', relay.relay.url, '--email', email, '--device-name', name], { input: `${PASSWORD}\n` });
        if (r.code !== 0) throw new Error(`login failed: ${r.stderr}`);
        return machine;
      };
      const sized = async (label: string, tasks: number): Promise<{ machine: Machine; store: GeneratedStore; email: string }> => {
        const email = `bench-${label}-${Date.now()}@example.com`;
        await createUser(relay.admin, { email, password: PASSWORD });
        const machine = await login(`${label}-laptop`, email);
        const t = performance.now();
        const store = await generateStore(machine.home, { source: 'roo-code', seed: tasks, tasks, distinct: 100, messages: [55, 125], damage: false });
        console.log(`${label}: generated ${store.readable.length} tasks, ${(store.bytes / 1e6).toFixed(0)} MB, ${store.messages} messages in ${((performance.now() - t) / 1000).toFixed(1)} s`);
        return { machine, store, email };
      };

      const small = await sized('250MB', Math.round(1250 * scale));
      // Baseline of the peak RSS figures: the CLI doing nothing (`--version`), in the same run.
      const idleRun = await measuredCli(small.machine, ['--version'], relay.admin);
      const smallRun = await measuredCli(small.machine, ['migrate', '--json'], relay.admin);
      console.log(`250MB: migrate ${smallRun.seconds.toFixed(1)} s, ${(small.store.bytes / 1e6 / smallRun.seconds).toFixed(1)} MB/s, peak RSS ${smallRun.peakRssMb.toFixed(0)} MB; ${costs(smallRun)}`);
      await rm(small.machine.home, { recursive: true, force: true });

      const big = await sized('1GB', Math.round(5000 * scale));
      const baseline = await readAndHash(big.store);
      console.log(`1GB: read + hash baseline ${baseline.toFixed(1)} MB/s`);
      const bigRun = await measuredCli(big.machine, ['migrate', '--json'], relay.admin);
      const throughput = big.store.bytes / 1e6 / bigRun.seconds;
      console.log(`1GB: migrate ${bigRun.seconds.toFixed(1)} s, ${throughput.toFixed(1)} MB/s, peak RSS ${bigRun.peakRssMb.toFixed(0)} MB; ${costs(bigRun)}`);

      const desktop = await login('1GB-desktop', big.email);
      await mkdir(join(desktop.home, '.config', 'Code', 'User', 'globalStorage', layoutOf('roo-code').extensionId), { recursive: true });
      const backfill = await measuredCli(desktop, ['backfill', '--target', 'roo-code', '--json'], relay.admin);
      const backfilled = JSON.parse(backfill.stdout) as { created: number; bytes: number };
      const backfillRate = backfilled.bytes / 1e6 / backfill.seconds;
      console.log(`1GB: backfill ${backfilled.created} tasks, ${(backfilled.bytes / 1e6).toFixed(0)} MB in ${backfill.seconds.toFixed(1)} s, ${backfillRate.toFixed(1)} MB/s, peak RSS ${backfill.peakRssMb.toFixed(0)} MB; ${costs(backfill)}`);

      figures.push(
        { name: 'migrate.throughput_mb_per_s', value: round(throughput), unit: 'MB/s', baseline: round(baseline), target: '>= 20' },
        { name: 'migrate.peak_rss_mb.250MB', value: round(smallRun.peakRssMb), unit: 'MB', baseline: round(idleRun.peakRssMb), target: 'none' },
        { name: 'migrate.peak_rss_mb.1GB', value: round(bigRun.peakRssMb), unit: 'MB', baseline: round(smallRun.peakRssMb), target: `<= ${round(smallRun.peakRssMb * 1.2)} (1.2x the 250MB figure)` },
        { name: 'backfill.throughput_mb_per_s', value: round(backfillRate), unit: 'MB/s', baseline: round(baseline), target: '>= 20' },
      );
    } finally {
      await rm(root, { recursive: true, force: true });
      await relay.close();
    }
    return figures;
  },
};

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
