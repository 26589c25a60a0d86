/**
 * `Database` adapter for PostgreSQL 13+ through a `pg` Pool.
 *
 * Pool size, idle timeout, acquire timeout (connectionTimeoutMillis) and statement_timeout come
 * from `PoolOptions`; every statement is timed for the `QueryObserver` hooks. int8 values are
 * returned as numbers (the same as PGlite) so callers see one set of JS types.
 */
import { Pool, types, type PoolClient } from 'pg';
import { SyncError } from '../../core/errors';
import type {
  Database,
  DatabaseHealth,
  LockedSession,
  QueryObserver,
  QueryResult,
  Session,
} from './database';
import { preparedName, withJsonText } from './database';
import { DbErrorCode, closedError, connectTargetOf, toConnectError, toDbError } from './db-errors';
import { statementTimer, type StatementTimer } from './query-observer';

/** Connection pool settings. Defaults: `DEFAULT_POOL_OPTIONS`. */
export interface PoolOptions {
  /** Most connections open at once. */
  max?: number;
  /** A connection idle this long (ms) is closed. */
  idleTimeoutMs?: number;
  /** Waiting for a free connection longer than this (ms) fails with DB_TIMEOUT. */
  acquireTimeoutMs?: number;
  /** PostgreSQL statement_timeout (ms) for every statement; 0 disables it. */
  statementTimeoutMs?: number;
}

export const DEFAULT_POOL_OPTIONS: Required<PoolOptions> = {
  max: 10,
  idleTimeoutMs: 30_000,
  acquireTimeoutMs: 10_000,
  statementTimeoutMs: 30_000,
};

export interface PostgresDatabaseOptions extends QueryObserver {
  /** postgres://user@host:port/db (credentials never reach logs or errors). */
  url: string;
  pool?: PoolOptions;
  /** Shown in pg_stat_activity. Default `roo-sync`. */
  applicationName?: string;
  /** Errors of idle pooled connections (a restarted server, a dropped socket). Default: ignored. */
  onPoolError?: (err: SyncError) => void;
}

const INT8_OID = 20;

/** A JsonText parameter for pg: a Buffer, which pg sends in binary format as it is. */
function utf8Buffer(text: string): Buffer {
  return Buffer.from(text, 'utf8');
}

function parseInt8(value: string): number {
  return Number(value);
}

export class PostgresDatabase implements Database {
  readonly kind = 'postgres' as const;
  private readonly pool: Pool;
  private readonly time: StatementTimer;
  private closing: Promise<void> | undefined;

  constructor(options: PostgresDatabaseOptions) {
    const pool = { ...DEFAULT_POOL_OPTIONS, ...definedOnly(options.pool ?? {}) };
    validatePoolOptions(pool);
    this.time = statementTimer(options);
    this.pool = new Pool({
      connectionString: options.url,
      max: pool.max,
      idleTimeoutMillis: pool.idleTimeoutMs,
      connectionTimeoutMillis: pool.acquireTimeoutMs,
      statement_timeout: pool.statementTimeoutMs,
      application_name: options.applicationName ?? 'roo-sync',
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
          oid === INT8_OID && format !== 'binary' ? parseInt8 : types.getTypeParser(oid, format as 'text')) as typeof types.getTypeParser,
      },
    });
    // Without a listener an idle client's error would crash the process.
    this.pool.on('error', (err) => options.onPoolError?.(toDbError(err, 'idle connection')));
  }

  /** Creates the pool and proves the database answers; throws DB_UNAVAILABLE when it does not. */
  static async open(options: PostgresDatabaseOptions): Promise<PostgresDatabase> {
    const db = new PostgresDatabase(options);
    try {
      await db.pool.query('SELECT 1');
    } catch (err) {
      await db.close();
      // The driver's own error, not one already turned into "unavailable during query": a
      // failed first connection says in words what is wrong (toConnectError).
      throw toConnectError(err, connectTargetOf(options.url));
    }
    return db;
  }

  async query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<Row>> {
    this.assertOpen();
    const stop = this.time(sql);
    try {
      const result = await this.pool.query(statement(sql, params));
      return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
    } catch (err) {
      throw toDbError(err);
    } finally {
      stop();
    }
  }

  async exec(sql: string): Promise<void> {
    this.assertOpen();
    const stop = this.time(sql);
    try {
      await this.pool.query(sql);
    } catch (err) {
      throw toDbError(err, 'script');
    } finally {
      stop();
    }
  }

  async transaction<T>(fn: (tx: Session) => Promise<T>): Promise<T> {
    const client = await this.connect();
    let broken: unknown;
    try {
      return await runTransaction(clientSession(client, this.time), fn);
    } catch (err) {
      if (isBrokenConnection(err)) broken = err;
      throw err;
    } finally {
      client.release(broken instanceof Error ? broken : undefined);
    }
  }

  async withAdvisoryLock<T>(key: number, fn: (db: LockedSession) => Promise<T>): Promise<T> {
    const client = await this.connect();
    const session = clientSession(client, this.time);
    let release: Error | undefined;
    try {
      await session.query('SELECT pg_advisory_lock($1::bigint)', [key]);
    } catch (err) {
      client.release(new Error('advisory lock failed'));
      throw err;
    }
    try {
      return await fn({ ...session, transaction: (inner) => runTransaction(session, inner) });
    } finally {
      try {
        await session.query('SELECT pg_advisory_unlock($1::bigint)', [key]);
      } catch {
        // Destroying the connection ends its session, which drops the lock.
        release = new Error('advisory unlock failed');
      }
      client.release(release);
    }
  }

  async health(): Promise<DatabaseHealth> {
    const started = performance.now();
    const pool = { total: this.pool.totalCount, idle: this.pool.idleCount, waiting: this.pool.waitingCount };
    try {
      await this.query('SELECT 1');
      return { ok: true, latencyMs: performance.now() - started, pool };
    } catch (err) {
      const e = toDbError(err, 'health check');
      return { ok: false, latencyMs: performance.now() - started, detail: `${e.code}: ${e.message}`, pool };
    }
  }

  close(): Promise<void> {
    this.closing ??= this.pool.end().catch(() => undefined);
    return this.closing;
  }

  private assertOpen(): void {
    if (this.closing) throw closedError();
  }

  /**
   * Checks a client out of the pool. While it is out, a connection error between statements
   * (the server restarted) is recorded instead of crashing the process, and the client is
   * destroyed on release rather than returned to the pool.
   */
  private async connect(): Promise<PoolClient> {
    this.assertOpen();
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw toDbError(err, 'connect');
    }
    let lost: Error | undefined;
    const onError = (err: Error) => (lost = err);
    client.on('error', onError);
    const release = client.release.bind(client);
    client.release = (destroy?: Error | boolean) => {
      client.off('error', onError);
      client.release = release;
      return release(destroy ?? lost);
    };
    return client;
  }
}

/** BEGIN, `fn`, COMMIT; ROLLBACK when `fn` or COMMIT throws. */
async function runTransaction<T>(session: Session, fn: (tx: Session) => Promise<T>): Promise<T> {
  await session.query('BEGIN');
  let result: T;
  try {
    result = await fn(session);
  } catch (err) {
    await session.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
  try {
    await session.query('COMMIT');
  } catch (err) {
    await session.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
  return result;
}

function clientSession(client: PoolClient, time: StatementTimer): Session {
  return {
    async query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<Row>> {
      const stop = time(sql);
      try {
        const result = await client.query(statement(sql, params));
        return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
      } catch (err) {
        throw toDbError(err);
      } finally {
        stop();
      }
    },
    async exec(sql: string): Promise<void> {
      const stop = time(sql);
      try {
        await client.query(sql);
      } catch (err) {
        throw toDbError(err, 'script');
      } finally {
        stop();
      }
    },
  };
}

/** pg's query config for `sql`: named when `prepared` marked it (server/db/database.ts). */
function statement(sql: string, params: readonly unknown[] | undefined): { text: string; values?: unknown[]; name?: string } {
  const name = preparedName(sql);
  const values = withJsonText(params, utf8Buffer);
  return name === undefined ? { text: sql, values } : { text: sql, values, name };
}

function isBrokenConnection(err: unknown): boolean {
  return err instanceof SyncError && err.code === DbErrorCode.UNAVAILABLE;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function validatePoolOptions(pool: Required<PoolOptions>): void {
  const checks: Array<[keyof PoolOptions, number, number]> = [
    ['max', pool.max, 1],
    ['idleTimeoutMs', pool.idleTimeoutMs, 0],
    ['acquireTimeoutMs', pool.acquireTimeoutMs, 0],
    ['statementTimeoutMs', pool.statementTimeoutMs, 0],
  ];
  for (const [name, value, min] of checks) {
    if (!Number.isInteger(value) || value < min) {
      throw new SyncError(DbErrorCode.CONFIG_INVALID, `pool option ${name} must be an integer >= ${min}`, { option: name });
    }
  }
}
