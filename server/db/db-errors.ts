/**
 * The database layer's error codes and the one place where a driver error (pg or PGlite)
 * becomes a `SyncError`. Driver errors carry the statement and its parameter values; none of
 * that is copied into the SyncError, so logging one never leaks data.
 */
import { SyncError } from '../../core/errors';

export const DbErrorCode = {
  /** The database cannot be reached (refused, connection lost, server shutting down). */
  UNAVAILABLE: 'DB_UNAVAILABLE',
  /** A statement failed; `details.sqlState` holds the PostgreSQL SQLSTATE. */
  QUERY_FAILED: 'DB_QUERY_FAILED',
  /** A constraint rejected a write (SQLSTATE class 23); `details.constraint` names it. */
  CONSTRAINT_VIOLATION: 'DB_CONSTRAINT_VIOLATION',
  /** A statement ran past statement_timeout, or no pooled connection came within the acquire timeout. */
  TIMEOUT: 'DB_TIMEOUT',
  /** The Database was used after close(). */
  CLOSED: 'DB_CLOSED',
  /** Another live process (or this one) already has the PGlite data directory open. */
  DATA_DIR_LOCKED: 'DB_DATA_DIR_LOCKED',
  /** A command that must not create a database found no embedded database in the data directory. */
  DATA_DIR_NOT_FOUND: 'DB_DATA_DIR_NOT_FOUND',
  /** The database configuration is unusable (bad URL, bad pool option). */
  CONFIG_INVALID: 'DB_CONFIG_INVALID',
} as const;

/** SQLSTATE classes/codes that mean "cannot talk to the server", not "the statement is wrong". */
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '53300', '3D000', '28000', '28P01']);
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN']);

interface DriverError {
  code?: unknown;
  message?: unknown;
  severity?: unknown;
  constraint?: unknown;
  table?: unknown;
  column?: unknown;
  schema?: unknown;
  routine?: unknown;
}

/** Turns whatever a driver threw into a SyncError with a stable code. SyncErrors pass through. */
export function toDbError(err: unknown, operation = 'query'): SyncError {
  if (err instanceof SyncError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as DriverError;
  const code = typeof e.code === 'string' ? e.code : undefined;
  const rawMessage = typeof e.message === 'string' ? e.message : String(err);

  if (code && NETWORK_CODES.has(code)) {
    return new SyncError(DbErrorCode.UNAVAILABLE, `database unavailable during ${operation}: ${code}`, { cause: code });
  }
  if (/timeout exceeded when trying to connect/i.test(rawMessage)) {
    return new SyncError(DbErrorCode.TIMEOUT, `no database connection within the acquire timeout (${operation})`);
  }
  if (/Connection terminated|Client has encountered a connection error|connection is closed/i.test(rawMessage)) {
    return new SyncError(DbErrorCode.UNAVAILABLE, `database connection lost during ${operation}`);
  }
  if (code && /^[0-9A-Z]{5}$/.test(code)) {
    const details: Record<string, unknown> = { sqlState: code };
    for (const key of ['constraint', 'table', 'column', 'schema', 'routine'] as const) {
      if (typeof e[key] === 'string') details[key] = e[key];
    }
    if (code === '57014') {
      return new SyncError(DbErrorCode.TIMEOUT, `statement cancelled (statement timeout) during ${operation}`, details);
    }
    if (code.startsWith('08') || UNAVAILABLE_STATES.has(code)) {
      return new SyncError(DbErrorCode.UNAVAILABLE, `database unavailable during ${operation} (SQLSTATE ${code})`, details);
    }
    if (code === '40001' || code === '40P01') details.retryable = true;
    // Class 22 (data exceptions) messages quote the offending input value: keep only the state.
    const text = code.startsWith('22') ? 'invalid input value' : rawMessage;
    const errorCode = code.startsWith('23') ? DbErrorCode.CONSTRAINT_VIOLATION : DbErrorCode.QUERY_FAILED;
    return new SyncError(errorCode, `${operation} failed (SQLSTATE ${code}): ${text}`, details);
  }
  return new SyncError(DbErrorCode.QUERY_FAILED, `${operation} failed: ${firstLine(rawMessage)}`);
}

/** Where a connection was going, for messages in words: nothing secret (no password). */
export interface ConnectTarget {
  host: string;
  port: number;
  database: string;
  user: string;
}

/** The target of a postgres:// URL with libpq's defaults (host localhost, port 5432, database = user). */
export function connectTargetOf(url: string, env: Readonly<Record<string, string | undefined>> = process.env): ConnectTarget {
  const parsed = new URL(url);
  const user = decodeURIComponent(parsed.username) || parsed.searchParams.get('user') || env.PGUSER || env.USER || 'postgres';
  return {
    host: parsed.hostname || parsed.searchParams.get('host') || env.PGHOST || 'localhost',
    port: Number(parsed.port || parsed.searchParams.get('port') || env.PGPORT || 5432),
    database: decodeURIComponent(parsed.pathname.replace(/^\//, '')) || parsed.searchParams.get('dbname') || env.PGDATABASE || user,
    user,
  };
}

/**
 * A failure to open the first connection, in words: what is wrong with which database, role or
 * host, keeping the SQLSTATE (or errno) in the message and in `details`. DB_UNAVAILABLE, or
 * DB_TIMEOUT when no connection came within the acquire timeout.
 */
export function toConnectError(err: unknown, target: ConnectTarget): SyncError {
  const e = (typeof err === 'object' && err !== null ? err : {}) as DriverError;
  const code = typeof e.code === 'string' ? e.code : undefined;
  const rawMessage = typeof e.message === 'string' ? e.message : String(err);
  const where = `${target.host}:${target.port}`;
  const details: Record<string, unknown> = { host: target.host, port: target.port, database: target.database, user: target.user };
  const unavailable = (words: string, state: string): SyncError =>
    new SyncError(DbErrorCode.UNAVAILABLE, `${words} (${/^[0-9A-Z]{5}$/.test(state) ? `SQLSTATE ${state}` : state})`, { ...details, ...(/^[0-9A-Z]{5}$/.test(state) ? { sqlState: state } : { cause: state }) });

  switch (code) {
    case '3D000':
      return unavailable(`database "${target.database}" does not exist on ${where}: create it, or fix the database name in DATABASE_URL`, code);
    case '28000':
      return unavailable(`role "${target.user}" was refused by ${where}: ${firstLine(rawMessage)}`, code);
    case '28P01':
      return unavailable(`password authentication failed for role "${target.user}" on ${where}: check the password in DATABASE_URL`, code);
    case '57P03':
      return unavailable(`the database server on ${where} is starting up or not accepting connections yet: retry in a moment`, code);
    case '53300':
      return unavailable(`too many connections on ${where}: the server has no free connection slot (raise max_connections, or lower DB_POOL_MAX of each relay)`, code);
    case '08001':
    case 'ECONNREFUSED':
      return unavailable(`cannot connect to ${where}: connection refused (is PostgreSQL running and listening there?)`, code);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return unavailable(`cannot connect to ${where}: host "${target.host}" not found`, code);
    case 'EHOSTUNREACH':
    case 'ETIMEDOUT':
      return unavailable(`cannot connect to ${where}: host unreachable`, code);
    default:
      break;
  }
  if (/timeout exceeded when trying to connect/i.test(rawMessage)) {
    return new SyncError(DbErrorCode.TIMEOUT, `cannot connect to ${where}: no connection within the acquire timeout (DB_POOL_ACQUIRE_TIMEOUT_MS)`, details);
  }
  const generic = toDbError(err, 'connect');
  if (generic.code === DbErrorCode.TIMEOUT) return generic;
  return new SyncError(DbErrorCode.UNAVAILABLE, `cannot use the database "${target.database}" on ${where}: ${generic.message}`, { ...generic.details, ...details });
}

function firstLine(text: string): string {
  const line = text.split('\n', 1)[0] ?? '';
  return line.length > 200 ? `${line.slice(0, 200)}...` : line;
}

export function closedError(): SyncError {
  return new SyncError(DbErrorCode.CLOSED, 'the database has been closed');
}
