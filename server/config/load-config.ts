/**
 * Builds RelayConfig: each option from its flag, else its environment variable, else its
 * default. Bad values fail with CONFIG_INVALID naming the option and why (never echoing a
 * secret). `describeConfig` gives the start-up log a copy with credentials redacted.
 */
import { resolve } from 'node:path';
import { SyncError } from '../../core/errors';
import { redactString } from '../observability/redact';
import { RELAY_OPTIONS, camelCase, type RawValue, type RelayOption } from './options';
import { RELAY_DEFAULTS, type RelayConfig } from './relay-config';

export interface LoadRelayConfigInput {
  /** Parsed command-line options, keyed by flag name (`database-url`) or its camelCase (`databaseUrl`). Undefined entries are ignored. */
  flags?: Readonly<Record<string, unknown>>;
  /** Default `process.env`. Empty strings count as unset (`REDIS_URL=` in a compose file). */
  env?: Readonly<Record<string, string | undefined>>;
}

/** Where a value came from, for error details and the start-up log. */
export type ConfigSource = 'flag' | 'env' | 'default';

export interface ConfigProblem {
  /** The flag (`--port`) or environment variable (`PORT`) that was wrong. */
  option: string;
  source: Exclude<ConfigSource, 'default'> | 'combination';
  reason: string;
}

/**
 * Loads the configuration. Throws SyncError CONFIG_INVALID with details `{ option, source,
 * reason, problems }` (every problem found, the first also at top level).
 */
export function loadRelayConfig(input: LoadRelayConfigInput = {}): RelayConfig {
  const flags = input.flags ?? {};
  const env = input.env ?? process.env;
  const problems: ConfigProblem[] = [];
  const config = structuredClone(RELAY_DEFAULTS) as unknown as Record<string, Record<string, unknown>>;

  for (const option of RELAY_OPTIONS) {
    const picked = pick(option, flags, env);
    if (!picked) continue;
    const parsed = option.parse(picked.raw);
    if (parsed.ok) {
      (config[option.group] as Record<string, unknown>)[option.field] = parsed.value;
    } else {
      problems.push({ option: picked.source === 'flag' ? `--${option.flag}` : option.env, source: picked.source, reason: parsed.reason });
    }
  }

  const database = config.database as Record<string, unknown>;
  database.dataDir = resolve(String(database.dataDir));
  const result = config as unknown as RelayConfig;
  if (problems.length === 0) problems.push(...checkCombinations(result));
  const [first] = problems;
  if (first) {
    const summary = problems.map((problem) => `${problem.option}: ${problem.reason}`).join('; ');
    throw new SyncError('CONFIG_INVALID', `invalid relay configuration: ${redactString(summary)}`, { ...first, problems });
  }
  return deepFreeze(result);
}

/** The configuration as the start-up log may print it: URL passwords and secret query parameters redacted. */
export function describeConfig(config: RelayConfig): Record<string, unknown> {
  const copy = structuredClone(config) as unknown as Record<string, Record<string, unknown>>;
  for (const option of RELAY_OPTIONS) {
    if (!option.secret) continue;
    const group = copy[option.group] as Record<string, unknown>;
    const value = group[option.field];
    if (typeof value === 'string') group[option.field] = redactUrl(value);
  }
  copy.mode = {
    database: config.database.url ? 'postgres' : 'pglite',
    cacheAndPubSub: config.redis.url ? 'redis' : 'in-process',
  };
  return copy;
}

/** A URL with any password (user-info or query) replaced by `***`; anything unparsable becomes `***`. */
export function redactUrl(value: string): string {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    return '***';
  }
  if (parsed.password) parsed.password = '***';
  return redactString(parsed.href);
}

function pick(option: RelayOption, flags: Readonly<Record<string, unknown>>, env: Readonly<Record<string, string | undefined>>):
  { raw: RawValue; source: 'flag' | 'env' } | undefined {
  const flagValue = flags[camelCase(option.flag)] ?? flags[option.flag];
  if (flagValue !== undefined && flagValue !== null) {
    if (typeof flagValue === 'string' || typeof flagValue === 'number' || typeof flagValue === 'boolean') return { raw: flagValue, source: 'flag' };
    return { raw: String(flagValue), source: 'flag' };
  }
  const envValue = env[option.env];
  if (envValue !== undefined && envValue.trim() !== '') return { raw: envValue, source: 'env' };
  return undefined;
}

function checkCombinations(config: RelayConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (config.ws.maxInflatedFrameBytes < config.ws.maxFrameBytes) {
    problems.push({ option: 'WS_MAX_INFLATED_BYTES', source: 'combination', reason: 'must be at least WS_MAX_FRAME_BYTES' });
  }
  if (config.ws.rateLimitBurst < config.ws.rateLimitPerSecond) {
    problems.push({ option: 'WS_RATE_LIMIT_BURST', source: 'combination', reason: 'must be at least WS_RATE_LIMIT_PER_SECOND' });
  }
  if (config.auth.refreshTokenTtlSeconds <= config.auth.accessTokenTtlSeconds) {
    problems.push({ option: 'REFRESH_TOKEN_TTL_SECONDS', source: 'combination', reason: 'must be longer than ACCESS_TOKEN_TTL_SECONDS' });
  }
  return problems;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
