/**
 * Port: the relay's database. Two adapters: PostgreSQL through `pg` (postgres-database.ts)
 * and PGlite in-process (pglite-database.ts), the embedded default. Both run the same SQL
 * (PostgreSQL 13+) and return the same JS values: int8 -> number, numeric -> string,
 * json/jsonb -> parsed value, timestamptz -> Date.
 *
 * Failures are `SyncError`s with the codes in db-errors.ts (DB_UNAVAILABLE, DB_QUERY_FAILED,
 * DB_TIMEOUT, DB_CLOSED); their messages never carry parameter values.
 */
import { createHash } from 'node:crypto';

export interface QueryResult<Row> {
  rows: Row[];
  rowCount: number;
}

/**
 * A parameter of type json (or text) given as its JSON text, typically a whole batch of rows
 * (`json_to_recordset($1::json)`). The PostgreSQL adapter sends it as UTF-8 bytes in binary
 * format (json's binary form is its text): `pg` would otherwise measure the string's UTF-8
 * length and then encode it, two passes over megabytes per push. PGlite gets the text. Never
 * for a parameter of another type (jsonb's, uuid's binary forms differ).
 */
export class JsonText {
  constructor(readonly text: string) {}
}

/** `params` with every JsonText as the value the adapter sends (`toValue(text)`), or as given when there is none. */
export function withJsonText(params: readonly unknown[] | undefined, toValue: (text: string) => unknown): unknown[] | undefined {
  return params?.map((p) => (p instanceof JsonText ? toValue(p.text) : p));
}

/**
 * Marks `sql` as a statement the PostgreSQL adapter prepares once per connection (a named
 * statement: parsed once, and planned once when PostgreSQL's plan cache settles on a generic
 * plan) instead of parsing and planning it on every call. For statements a relay runs thousands
 * of times with parameters whose values do not change the best plan (the projector's writes,
 * the messages route's page): parsing and planning them was about a tenth of PostgreSQL's time
 * per projected change. Returns `sql`; PGlite runs it as any other.
 */
export function prepared(sql: string): string {
  if (!PREPARED.has(sql)) PREPARED.set(sql, `roo_${createHash('sha256').update(sql).digest('hex').slice(0, 24)}`);
  return sql;
}

/** The statement name `prepared` gave `sql`, or undefined for a statement parsed each time. */
export function preparedName(sql: string): string | undefined {
  return PREPARED.get(sql);
}

const PREPARED = new Map<string, string>();

export interface Queryable {
  /** Runs one parameterised statement ($1, $2, ...). */
  query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<Row>>;
}

/**
 * A connection that can also run a script of several statements without parameters
 * (migration files). Everything `transaction` and `withAdvisoryLock` hand to their callback is one.
 */
export interface Session extends Queryable {
  /** Runs `sql`, which may hold several `;`-separated statements and takes no parameters. */
  exec(sql: string): Promise<void>;
}

/** A session that holds an advisory lock and may open transactions on its own connection. */
export interface LockedSession extends Session {
  /** Runs `fn` in one transaction on the locked connection: COMMIT when it resolves, ROLLBACK when it throws. */
  transaction<T>(fn: (tx: Session) => Promise<T>): Promise<T>;
}

export interface DatabaseHealth {
  ok: boolean;
  latencyMs: number;
  detail?: string;
  /** PostgreSQL adapter only: connections in the pool right now. */
  pool?: { total: number; idle: number; waiting: number };
}

export interface Database extends Session {
  readonly kind: 'postgres' | 'pglite';
  /** Runs `fn` in one transaction on one connection: COMMIT when it resolves, ROLLBACK when it throws. */
  transaction<T>(fn: (tx: Session) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` on one connection while holding a session advisory lock on `key`; waits for the
   * lock when another holder (in this process or another server) has it.
   */
  withAdvisoryLock<T>(key: number, fn: (db: LockedSession) => Promise<T>): Promise<T>;
  /** Round trip to the database; never throws (a failure is `ok: false` with a detail). */
  health(): Promise<DatabaseHealth>;
  /** Idempotent. */
  close(): Promise<void>;
}

/**
 * Observes every statement (both adapters). `sql` is the statement text with its `$n`
 * placeholders: parameter values are never passed to hooks, so they never reach a log.
 */
export interface QueryObserver {
  /** Called after every statement, successful or not (metrics). */
  onQuery?: (durationMs: number, sql: string) => void;
  /** Statements slower than this many ms also go to `onSlowQuery`. Default: DEFAULT_SLOW_QUERY_MS (200). */
  slowQueryMs?: number;
  /** The slow-query log. */
  onSlowQuery?: (info: { durationMs: number; sql: string }) => void;
}
