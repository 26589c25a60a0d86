/**
 * Port: the relay's database. Two adapters: PostgreSQL through `pg` (postgres-database.ts)
 * and PGlite in-process (pglite-database.ts), the embedded default. Both run the same SQL.
 */
export interface QueryResult<Row> {
  rows: Row[];
  rowCount: number;
}

export interface Queryable {
  /** Runs one parameterised statement ($1, $2, ...). */
  query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<Row>>;
}

export interface DatabaseHealth {
  ok: boolean;
  latencyMs: number;
  detail?: string;
}

export interface Database extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** Runs `fn` in one transaction on one connection: COMMIT when it resolves, ROLLBACK when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Runs `fn` on one connection while holding a session advisory lock on `key`. */
  withAdvisoryLock<T>(key: number, fn: (db: Queryable) => Promise<T>): Promise<T>;
  health(): Promise<DatabaseHealth>;
  /** Idempotent. */
  close(): Promise<void>;
}
