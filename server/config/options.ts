/**
 * The flag and environment variable of every RelayConfig field, with its parser. The CLI
 * builds its `roo-sync server` flags from this table (`--<flag> <value>`, or `--<flag>` alone
 * for a switch; help text included).
 */
import { resolve } from 'node:path';
import { LOG_FORMATS, LOG_LEVELS, isLogFormat, isLogLevel } from '../observability/logger';
import { parseTrustedProxies } from '../http/trusted-proxies';
import type { RelayConfig } from './relay-config';

/** A raw value as it arrives: a string from the environment or command line, or a typed value from code. */
export type RawValue = string | number | boolean;
export type ParseResult = { ok: true; value: unknown } | { ok: false; reason: string };

export interface RelayOption {
  /** Where the value lands in RelayConfig. */
  readonly group: keyof RelayConfig;
  readonly field: string;
  /** Environment variable. */
  readonly env: string;
  /** Command-line flag without dashes (kebab-case; commander hands it over camelCased, both are accepted). */
  readonly flag: string;
  /** One line for `--help`. */
  readonly help: string;
  /** Holds credentials: never printed unredacted. */
  readonly secret?: boolean;
  /**
   * A switch: the flag takes no value and means "yes" (`--allow-signup`, `--no-migrate`); the
   * environment variable takes 1/0, true/false, yes/no or on/off.
   */
  readonly switch?: boolean;
  /**
   * The flag's value may be left out (`--trust-proxy` or `--trust-proxy 10.0.0.2`): alone it
   * means "yes". The name shown in `--help` (`--trust-proxy [addresses]`).
   */
  readonly optionalValue?: string;
  readonly parse: (raw: RawValue) => ParseResult;
}

const ok = (value: unknown): ParseResult => ({ ok: true, value });
const fail = (reason: string): ParseResult => ({ ok: false, reason });

function integer(min: number, max: number = Number.MAX_SAFE_INTEGER): (raw: RawValue) => ParseResult {
  return (raw) => {
    const text = String(raw).trim().replace(/_/g, '');
    if (typeof raw === 'boolean' || !/^-?\d+$/.test(text)) return fail(`must be a whole number, got "${String(raw)}"`);
    const value = Number(text);
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      return fail(max === Number.MAX_SAFE_INTEGER ? `must be at least ${min}` : `must be from ${min} to ${max}`);
    }
    return ok(value);
  };
}

function text(pattern?: RegExp, why?: string): (raw: RawValue) => ParseResult {
  return (raw) => {
    const value = String(raw).trim();
    if (value.length === 0) return fail('must not be empty');
    if (pattern && !pattern.test(value)) return fail(why ?? `must match ${pattern}`);
    return ok(value);
  };
}

function url(protocols: readonly string[]): (raw: RawValue) => ParseResult {
  return (raw) => {
    const value = String(raw).trim();
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      // The value may hold a password: never echo it.
      return fail('is not a valid URL');
    }
    if (!protocols.includes(parsed.protocol)) return fail(`must start with ${protocols.map((p) => `${p}//`).join(' or ')}`);
    if (!parsed.hostname && !parsed.searchParams.has('host')) return fail('has no host');
    return ok(value);
  };
}

const directory = (raw: RawValue): ParseResult => {
  const value = String(raw).trim();
  if (value.length === 0) return fail('must not be empty');
  if (value.includes('\0')) return fail('must not contain NUL');
  return ok(resolve(value));
};

const logLevel = (raw: RawValue): ParseResult => {
  const value = String(raw).trim().toLowerCase();
  return isLogLevel(value) ? ok(value) : fail(`must be one of ${LOG_LEVELS.join(', ')}`);
};

const logFormat = (raw: RawValue): ParseResult => {
  const value = String(raw).trim().toLowerCase();
  return isLogFormat(value) ? ok(value) : fail(`must be one of ${LOG_FORMATS.join(', ')}`);
};

/** 1, true, yes, on / 0, false, no, off (any case) as a boolean; undefined for anything else. */
function yesNoValue(raw: RawValue): boolean | undefined {
  if (typeof raw === 'boolean') return raw;
  const text = String(raw).trim().toLowerCase();
  if (/^(1|true|yes|on)$/.test(text)) return true;
  if (/^(0|false|no|off)$/.test(text)) return false;
  return undefined;
}

const onOff = (raw: RawValue): ParseResult => {
  const on = yesNoValue(raw);
  return on === undefined ? fail('must be on or off') : ok(on);
};

/** TRUST_PROXY: a yes/no (any peer / none), or the trusted proxies' addresses and networks. */
const trustProxy = (raw: RawValue): ParseResult => {
  const yes = yesNoValue(raw);
  if (yes !== undefined) return ok(yes);
  const parsed = parseTrustedProxies(String(raw));
  return parsed.ok ? ok(parsed.value) : fail(`${parsed.reason}; give the proxies' addresses, or 1, true, yes or on (any peer), or 0, false, no, off (none)`);
};

/** A switch's value (see yesNoValue); `inverted` for a NO_* switch, whose "yes" turns the field off. */
function yesNo(inverted = false): (raw: RawValue) => ParseResult {
  return (raw) => {
    const yes = yesNoValue(raw);
    if (yes === undefined) return fail(`must be 1, true, yes or on (or 0, false, no, off), got "${String(raw)}"`);
    return ok(inverted ? !yes : yes);
  };
}

const MS_DAY = 86_400_000;
/** Largest interval a Node timer takes (2^31 - 1 ms); above it setInterval fires every millisecond. */
const S_TIMER_MAX = Math.floor(2_147_483_647 / 1000);
const S_YEAR = 366 * 86_400;
const DAY_S = 86_400;

/** Every option, in the order `--help` lists them. */
export const RELAY_OPTIONS: readonly RelayOption[] = [
  { group: 'http', field: 'port', env: 'PORT', flag: 'port', help: 'HTTP and WebSocket port (0 = any free port)', parse: integer(0, 65_535) },
  { group: 'http', field: 'host', env: 'HOST', flag: 'host', help: 'interface to bind', parse: text(/^[^\s/]+$/, 'must be a host name or address') },
  { group: 'http', field: 'maxBodyBytes', env: 'MAX_BODY_BYTES', flag: 'max-body-bytes', help: 'largest JSON request body, bytes', parse: integer(1024) },
  { group: 'http', field: 'maxBlobBytes', env: 'MAX_BLOB_BYTES', flag: 'max-blob-bytes', help: 'largest blob upload, bytes', parse: integer(1024) },
  { group: 'http', field: 'blobUploadTtlSeconds', env: 'BLOB_UPLOAD_TTL_SECONDS', flag: 'blob-upload-ttl-seconds', help: 'discard a resumable blob upload that gets no chunk for this long, s', parse: integer(60, S_YEAR) },
  { group: 'http', field: 'idleTimeoutMs', env: 'HTTP_IDLE_TIMEOUT_MS', flag: 'http-idle-timeout-ms', help: 'end an HTTP request after this long without a byte either way (408 while its body is incomplete), ms; 0 = never. WebSockets are exempt', parse: integer(0, MS_DAY) },
  { group: 'http', field: 'shutdownGraceMs', env: 'SHUTDOWN_GRACE_MS', flag: 'shutdown-grace-ms', help: 'graceful shutdown wait, ms', parse: integer(0, MS_DAY) },
  {
    group: 'http', field: 'trustProxy', env: 'TRUST_PROXY', flag: 'trust-proxy',
    help: "the reverse proxies whose X-Forwarded-For names the client: their addresses or networks (172.30.87.10, 10.0.0.0/8, loopback, private; comma-separated); alone or 1: any peer; 0: none",
    optionalValue: 'addresses', parse: trustProxy,
  },
  { group: 'database', field: 'url', env: 'DATABASE_URL', flag: 'database-url', help: 'PostgreSQL URL; unset = embedded PGlite in --data-dir', secret: true, parse: url(['postgres:', 'postgresql:']) },
  { group: 'database', field: 'dataDir', env: 'DATA_DIR', flag: 'data-dir', help: 'embedded PGlite data directory', parse: directory },
  { group: 'database', field: 'poolMax', env: 'DB_POOL_MAX', flag: 'db-pool-max', help: 'most PostgreSQL pool connections', parse: integer(1, 1_000) },
  { group: 'database', field: 'poolIdleTimeoutMs', env: 'DB_POOL_IDLE_TIMEOUT_MS', flag: 'db-pool-idle-timeout-ms', help: 'idle pool connection lifetime, ms', parse: integer(0, MS_DAY) },
  { group: 'database', field: 'poolAcquireTimeoutMs', env: 'DB_POOL_ACQUIRE_TIMEOUT_MS', flag: 'db-pool-acquire-timeout-ms', help: 'longest wait for a pool connection, ms', parse: integer(1, MS_DAY) },
  { group: 'database', field: 'statementTimeoutMs', env: 'DB_STATEMENT_TIMEOUT_MS', flag: 'db-statement-timeout-ms', help: 'statement_timeout, ms (0 = none)', parse: integer(0, MS_DAY) },
  { group: 'database', field: 'slowQueryMs', env: 'DB_SLOW_QUERY_MS', flag: 'db-slow-query-ms', help: 'slow-query log threshold, ms', parse: integer(0, MS_DAY) },
  { group: 'database', field: 'migrate', env: 'NO_MIGRATE', flag: 'no-migrate', help: 'do not apply pending migrations at start; refuse to start while any are pending (run `roo-sync db migrate`)', switch: true, parse: yesNo(true) },
  { group: 'redis', field: 'url', env: 'REDIS_URL', flag: 'redis-url', help: 'Redis URL; unset = in-process cache and pub/sub', secret: true, parse: url(['redis:', 'rediss:']) },
  { group: 'redis', field: 'keyPrefix', env: 'REDIS_KEY_PREFIX', flag: 'redis-key-prefix', help: 'prefix of Redis keys and channels (one per deployment)', parse: text(/^\S+$/, 'must not contain spaces') },
  { group: 'redis', field: 'connectTimeoutMs', env: 'REDIS_CONNECT_TIMEOUT_MS', flag: 'redis-connect-timeout-ms', help: 'Redis connect timeout, ms', parse: integer(1, 600_000) },
  { group: 'ws', field: 'maxFrameBytes', env: 'WS_MAX_FRAME_BYTES', flag: 'ws-max-frame-bytes', help: 'largest WebSocket frame as received, bytes', parse: integer(1024) },
  { group: 'ws', field: 'maxInflatedFrameBytes', env: 'WS_MAX_INFLATED_BYTES', flag: 'ws-max-inflated-bytes', help: 'largest frame body after decompression, bytes', parse: integer(1024) },
  { group: 'ws', field: 'compressThresholdBytes', env: 'WS_COMPRESS_THRESHOLD_BYTES', flag: 'ws-compress-threshold-bytes', help: 'compress bodies larger than this, bytes', parse: integer(0) },
  { group: 'ws', field: 'brotliQuality', env: 'WS_BROTLI_QUALITY', flag: 'ws-brotli-quality', help: 'brotli quality (0-11) of frames the relay sends above 64 KiB (smaller ones use the connection context)', parse: integer(0, 11) },
  { group: 'ws', field: 'helloTimeoutMs', env: 'WS_HELLO_TIMEOUT_MS', flag: 'ws-hello-timeout-ms', help: 'time allowed for the first frame, ms', parse: integer(1, 600_000) },
  { group: 'ws', field: 'rateLimitPerSecond', env: 'WS_RATE_LIMIT_PER_SECOND', flag: 'ws-rate-limit-per-second', help: 'frames per second per device', parse: integer(1, 1_000_000) },
  { group: 'ws', field: 'rateLimitBurst', env: 'WS_RATE_LIMIT_BURST', flag: 'ws-rate-limit-burst', help: 'frame burst per device', parse: integer(1, 10_000_000) },
  { group: 'ws', field: 'slowConsumerBytes', env: 'WS_SLOW_CONSUMER_BYTES', flag: 'ws-slow-consumer-bytes', help: 'unsent bytes on a socket above which live change pages are replaced by one "pull" page, bytes', parse: integer(1024) },
  { group: 'ws', field: 'slowConsumerCloseBytes', env: 'WS_SLOW_CONSUMER_CLOSE_BYTES', flag: 'ws-slow-consumer-close-bytes', help: 'unsent bytes on a socket above which it is closed (4429), bytes', parse: integer(1024) },
  { group: 'auth', field: 'accessTokenTtlSeconds', env: 'ACCESS_TOKEN_TTL_SECONDS', flag: 'access-token-ttl-seconds', help: 'access token lifetime, s', parse: integer(10, S_YEAR) },
  { group: 'auth', field: 'refreshReuseGraceSeconds', env: 'REFRESH_REUSE_GRACE_SECONDS', flag: 'refresh-reuse-grace-seconds', help: 'how long after its rotation a refresh token presented again is taken as a client that lost the answer (when the pair it was traded for was never used), s; 0: never', parse: integer(0, 300) },
  { group: 'auth', field: 'refreshTokenTtlSeconds', env: 'REFRESH_TOKEN_TTL_SECONDS', flag: 'refresh-token-ttl-seconds', help: 'refresh token lifetime, s', parse: integer(60, 10 * S_YEAR) },
  { group: 'auth', field: 'loginMaxFailuresPerAccountAddress', env: 'LOGIN_MAX_FAILURES_PER_ACCOUNT_ADDRESS', flag: 'login-max-failures-per-account-address', help: 'failed password checks per account from one address within the login window', parse: integer(1, 1_000_000) },
  { group: 'auth', field: 'loginMaxFailuresPerAccount', env: 'LOGIN_MAX_FAILURES_PER_ACCOUNT', flag: 'login-max-failures-per-account', help: 'failed password checks per account from all addresses within the login window', parse: integer(1, 1_000_000) },
  { group: 'auth', field: 'loginMaxFailuresPerAddress', env: 'LOGIN_MAX_FAILURES_PER_ADDRESS', flag: 'login-max-failures-per-address', help: 'failed password checks per client address for all accounts within the login window', parse: integer(1, 1_000_000) },
  { group: 'auth', field: 'allowSignup', env: 'ALLOW_SIGNUP', flag: 'allow-signup', help: 'let anyone create an account with POST /v1/users', switch: true, parse: yesNo() },
  { group: 'auth', field: 'loginWindowSeconds', env: 'LOGIN_WINDOW_SECONDS', flag: 'login-window-seconds', help: 'login rate-limit window, s', parse: integer(1, DAY_S) },
  { group: 'sync', field: 'commandTtlSeconds', env: 'COMMAND_TTL_SECONDS', flag: 'command-ttl-seconds', help: 'default remote command expiry, s', parse: integer(1, S_YEAR) },
  { group: 'sync', field: 'compactionAgeSeconds', env: 'COMPACTION_AGE_SECONDS', flag: 'compaction-age-seconds', help: 'compact change-log entries older than this, s', parse: integer(3_600, 100 * S_YEAR) },
  { group: 'sync', field: 'compactionIntervalSeconds', env: 'COMPACTION_INTERVAL_SECONDS', flag: 'compaction-interval-seconds', help: 'how often the change-log retention job runs, s (0 = never)', parse: integer(0, S_TIMER_MAX) },
  { group: 'sync', field: 'commandRetentionSeconds', env: 'COMMAND_RETENTION_SECONDS', flag: 'command-retention-seconds', help: 'delete finished remote commands this long after they finished, s', parse: integer(60, 10 * S_YEAR) },
  { group: 'sync', field: 'projections', env: 'PROJECTIONS', flag: 'projections', help: 'keep the read model (task messages, workspace files) projected from the change log: on or off (also 1/0, true/false, yes/no)', parse: onOff },
  { group: 'cache', field: 'sessionTtlSeconds', env: 'SESSION_CACHE_TTL_SECONDS', flag: 'session-cache-ttl-seconds', help: 'session cache TTL, s', parse: integer(1, S_YEAR) },
  { group: 'cache', field: 'queryTtlSeconds', env: 'QUERY_CACHE_TTL_SECONDS', flag: 'query-cache-ttl-seconds', help: 'task list / metadata cache TTL, s', parse: integer(1, S_YEAR) },
  { group: 'log', field: 'level', env: 'LOG_LEVEL', flag: 'log-level', help: `least severe log level (${LOG_LEVELS.join(', ')})`, parse: logLevel },
  { group: 'log', field: 'format', env: 'LOG_FORMAT', flag: 'log-format', help: 'pretty (one short human line per event) or json (one JSON object per line); unset: pretty on a terminal, else json', parse: logFormat },
];

/** `database-url` -> `databaseUrl`, the key commander uses. */
export function camelCase(flag: string): string {
  return flag.replace(/-([a-z0-9])/g, (_match, letter: string) => letter.toUpperCase());
}
