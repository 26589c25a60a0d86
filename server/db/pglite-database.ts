/**
 * `Database` adapter for PGlite (PostgreSQL in WASM, in this process): the embedded default
 * when no DATABASE_URL is configured.
 *
 * PGlite holds one connection, so statements are serialised; a transaction runs through
 * PGlite's own `transaction`, which keeps every other caller out until it ends. Advisory locks
 * are an in-process mutex per key: one process is the only user of a PGlite data directory.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { SyncError } from '../../core/errors';
import type {
  Database,
  DatabaseHealth,
  LockedSession,
  QueryObserver,
  QueryResult,
  Session,
} from './database';
import { withJsonText } from './database';
import { DbErrorCode, closedError, toDbError } from './db-errors';
import { statementTimer, type StatementTimer } from './query-observer';

export interface PgliteDatabaseOptions extends QueryObserver {
  /** Directory of the data files; created when missing (unless `mustExist`). Omitted or `memory://`: in memory. */
  dataDir?: string;
  /**
   * Refuse (DB_DATA_DIR_NOT_FOUND) a `dataDir` that holds no database instead of creating one:
   * for commands that only read or change an existing database.
   */
  mustExist?: boolean;
  /**
   * A data directory tarball (from PGlite `dumpDataDir`) to start from instead of running
   * initdb, which takes seconds. Tests use it to get a fresh database fast.
   */
  loadDataDir?: Blob;
}

type Runner = Pick<Transaction, 'query' | 'exec'>;

export class PgliteDatabase implements Database {
  readonly kind = 'pglite' as const;
  private readonly locks = new Map<number, Promise<void>>();
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly pg: PGlite,
    private readonly time: StatementTimer,
    private readonly lockFile: string | undefined,
  ) {}

  /** Opens (and on first use initialises) the database; throws DB_UNAVAILABLE when PGlite cannot start. */
  static async open(options: PgliteDatabaseOptions = {}): Promise<PgliteDatabase> {
    const dataDir = options.dataDir && options.dataDir !== 'memory://' ? options.dataDir : undefined;
    let lockFile: string | undefined;
    try {
      if (dataDir) {
        if (options.mustExist && !existsSync(join(dataDir, 'PG_VERSION'))) {
          throw new SyncError(
            DbErrorCode.DATA_DIR_NOT_FOUND,
            `no embedded database in ${dataDir}: check --data-dir (or DATA_DIR); \`roo-sync db migrate\` or \`roo-sync server\` create one`,
            { dataDir },
          );
        }
        mkdirSync(dataDir, { recursive: true });
        lockFile = lockDataDir(dataDir);
      }
      const pg = await PGlite.create(dataDir, options.loadDataDir ? { loadDataDir: options.loadDataDir } : {});
      return new PgliteDatabase(pg, statementTimer(options), lockFile);
    } catch (err) {
      if (lockFile) rmSync(lockFile, { force: true });
      if (err instanceof SyncError) throw err;
      const reason = err instanceof Error ? err.message.split('\n', 1)[0] : String(err);
      throw new SyncError(DbErrorCode.UNAVAILABLE, `cannot open the embedded database: ${reason}`, {
        dataDir: dataDir ?? 'memory://',
      });
    }
  }

  async query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<Row>> {
    this.assertOpen();
    return runQuery<Row>(this.pg, this.time, sql, params);
  }

  async exec(sql: string): Promise<void> {
    this.assertOpen();
    return runExec(this.pg, this.time, sql);
  }

  async transaction<T>(fn: (tx: Session) => Promise<T>): Promise<T> {
    this.assertOpen();
    let thrownByFn: { error: unknown } | undefined;
    try {
      return await this.pg.transaction(async (tx) => {
        try {
          return await fn(runnerSession(tx, this.time));
        } catch (error) {
          thrownByFn = { error };
          throw error;
        }
      });
    } catch (err) {
      // The caller's own error passes through untouched; BEGIN/COMMIT failures get a code.
      if (thrownByFn && thrownByFn.error === err) throw err;
      throw toDbError(err, 'transaction');
    }
  }

  async withAdvisoryLock<T>(key: number, fn: (db: LockedSession) => Promise<T>): Promise<T> {
    this.assertOpen();
    const previous = this.locks.get(key) ?? Promise.resolve();
    let unlock!: () => void;
    const held = new Promise<void>((resolve) => (unlock = resolve));
    const tail = previous.then(() => held);
    this.locks.set(key, tail);
    await previous;
    try {
      this.assertOpen();
      return await fn({
        ...runnerSession(this.pg, this.time),
        transaction: (inner) => this.transaction(inner),
      });
    } finally {
      unlock();
      if (this.locks.get(key) === tail) this.locks.delete(key);
    }
  }

  async health(): Promise<DatabaseHealth> {
    const started = performance.now();
    try {
      await this.query('SELECT 1');
      return { ok: true, latencyMs: performance.now() - started };
    } catch (err) {
      const e = toDbError(err, 'health check');
      return { ok: false, latencyMs: performance.now() - started, detail: `${e.code}: ${e.message}` };
    }
  }

  close(): Promise<void> {
    this.closing ??= this.pg
      .close()
      .catch(() => undefined)
      .finally(() => {
        if (this.lockFile) rmSync(this.lockFile, { force: true });
      });
    return this.closing;
  }

  private assertOpen(): void {
    if (this.closing || this.pg.closed) throw closedError();
  }
}

function runnerSession(runner: Runner, time: StatementTimer): Session {
  return {
    query: <Row>(sql: string, params?: readonly unknown[]) => runQuery<Row>(runner, time, sql, params),
    exec: (sql: string) => runExec(runner, time, sql),
  };
}

async function runQuery<Row>(
  runner: Runner,
  time: StatementTimer,
  sql: string,
  params: readonly unknown[] | undefined,
): Promise<QueryResult<Row>> {
  const stop = time(sql);
  try {
    const result = await runner.query<Row>(sql, withJsonText(params, (text) => text));
    return { rows: result.rows, rowCount: result.rowCount ?? result.affectedRows ?? result.rows.length };
  } catch (err) {
    throw toDbError(err);
  } finally {
    stop();
  }
}

async function runExec(runner: Runner, time: StatementTimer, sql: string): Promise<void> {
  const stop = time(sql);
  try {
    await runner.exec(sql);
  } catch (err) {
    throw toDbError(err, 'script');
  } finally {
    stop();
  }
}

const LOCK_FILE = 'roo-sync.lock';

/**
 * PGlite has no postmaster.pid: two processes on one data directory would corrupt it. Takes a
 * lock file holding our pid; a lock whose process is gone is stale and taken over.
 */
function lockDataDir(dataDir: string): string {
  const path = join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return path;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(readFileSync(path, 'utf8').trim());
      if (Number.isInteger(holder) && holder > 0 && isAlive(holder)) {
        throw new SyncError(DbErrorCode.DATA_DIR_LOCKED, `the data directory ${dataDir} is in use by process ${holder} (the embedded relay, or another roo-sync command): stop it first, or run the relay on PostgreSQL (DATABASE_URL) to administer it while it runs`, {
          dataDir,
          pid: holder,
        });
      }
      rmSync(path, { force: true });
    }
  }
  throw new SyncError(DbErrorCode.DATA_DIR_LOCKED, 'could not lock the data directory', { dataDir });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
