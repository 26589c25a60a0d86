/**
 * A PostgreSQL server of its own for a fault test: `initdb` into a new temp folder owned by the
 * `postgres` user (the tests run as root; PostgreSQL refuses to run as root), started with
 * `pg_ctl` on a free 127.0.0.1 port with trust auth, so stopping or killing it disturbs nothing
 * else on the machine. `stop()` / `start()` may be called any number of times; `remove()` stops
 * it and deletes the folder.
 */
import { execFile } from 'node:child_process';
import { chown, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { freePort } from './free-port';

const run = promisify(execFile);

/** The newest /usr/lib/postgresql/<version>/bin. */
export async function postgresBinDir(): Promise<string> {
  const versions = (await readdir('/usr/lib/postgresql')).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  if (!versions[0]) throw new Error('no PostgreSQL server under /usr/lib/postgresql (apt-get install postgresql)');
  return join('/usr/lib/postgresql', versions[0], 'bin');
}

export interface PgInstance {
  readonly port: number;
  /** postgres://postgres@127.0.0.1:PORT/postgres */
  readonly url: string;
  readonly dataDir: string;
  /** Starts it (waits until it accepts connections). */
  start(): Promise<void>;
  /** `fast` (SIGINT: ends sessions, clean) or `immediate` (SIGQUIT: like a crash, replays WAL on start). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Server-side counters of the database, for load reports. */
  stats(): Promise<{ xactCommit: number; tupInserted: number; blksRead: number; blksHit: number; sizeBytes: number }>;
  /** Stops it when running and deletes its folder. Idempotent. */
  remove(): Promise<void>;
}

function asPostgres(bin: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run('runuser', ['-u', 'postgres', '--', bin, ...args], { maxBuffer: 16 * 1024 * 1024 });
}

export async function startPgInstance(options: { maxConnections?: number } = {}): Promise<PgInstance> {
  const bin = await postgresBinDir();
  const root = await mkdtemp(join(tmpdir(), 'roo-sync-pg-'));
  await chown(root, Number((await run('id', ['-u', 'postgres'])).stdout.trim()), Number((await run('id', ['-g', 'postgres'])).stdout.trim()));
  const dataDir = join(root, 'data');
  const port = await freePort();
  await asPostgres(join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
  const opts = `-p ${port} -k ${root} -c listen_addresses=127.0.0.1 -c max_connections=${options.maxConnections ?? 200} -c fsync=on -c shared_buffers=64MB`;
  let running = false;
  let removed: Promise<void> | undefined;
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const instance: PgInstance = {
    port,
    url,
    dataDir,
    async start() {
      await asPostgres(join(bin, 'pg_ctl'), ['-D', dataDir, '-o', opts, '-l', join(root, 'server.log'), '-w', '-t', '60', 'start']);
      running = true;
    },
    async stop(mode = 'fast') {
      if (!running) return;
      await asPostgres(join(bin, 'pg_ctl'), ['-D', dataDir, '-m', mode, '-w', '-t', '60', 'stop']);
      running = false;
    },
    async stats() {
      const client = new Client({ connectionString: url, connectionTimeoutMillis: 5000 });
      await client.connect();
      try {
        const row = (await client.query<{ xact_commit: string; tup_inserted: string; blks_read: string; blks_hit: string; size: string }>(
          "SELECT sum(xact_commit) AS xact_commit, sum(tup_inserted) AS tup_inserted, sum(blks_read) AS blks_read, sum(blks_hit) AS blks_hit, (SELECT sum(pg_database_size(datname)) FROM pg_database) AS size FROM pg_stat_database",
        )).rows[0]!;
        return { xactCommit: Number(row.xact_commit), tupInserted: Number(row.tup_inserted), blksRead: Number(row.blks_read), blksHit: Number(row.blks_hit), sizeBytes: Number(row.size) };
      } finally {
        await client.end();
      }
    },
    remove() {
      removed ??= (async () => {
        await instance.stop('immediate').catch(() => undefined);
        await rm(root, { recursive: true, force: true });
      })();
      return removed;
    },
  };
  try {
    await instance.start();
  } catch (err) {
    await rm(root, { recursive: true, force: true });
    throw err;
  }
  return instance;
}
