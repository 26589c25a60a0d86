/**
 * Redaction of secrets from anything that is about to be logged: values under keys named like
 * a secret (token, password, secret, authorization, cookie, refresh, api key, ...) at any depth,
 * credentials inside URLs, and bearer tokens inside free text.
 */

/** What replaces a redacted value. */
export const REDACTED = '[REDACTED]';

const SECRET_KEY = /token|passw(or)?d|passwd|pwd|secret|authori[sz]ation|cookie|refresh|api[-_]?key|private[-_]?key|credential|session[-_]?id/i;
/** `scheme://user:password@host` or `scheme://token@host`: the user-info part of any URL. */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@]*)@/gi;
const BEARER = /\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+/gi;
/** `?password=...`, `&access_token=...` in a query string, `password=...` in free text. */
const SECRET_ASSIGNMENT = /((?:^|[?&\s;,])[^=&\s#;,?]*(?:passw(?:or)?d|pwd|token|secret|sslkey|api[-_]?key|auth)[^=&\s#;,?]*=)[^&\s#;,]*/gi;
const MAX_DEPTH = 10;

/** True when a field named `key` holds a secret and must never be printed. */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/**
 * Removes credentials from URLs and bearer/basic credentials from a free-text string.
 * `postgres://app:hunter2@db/x` becomes `postgres://app:***@db/x`; `?password=x` becomes `?password=***`.
 */
export function redactString(text: string): string {
  if (!text.includes('://') && !text.includes('=') && !/bearer|basic/i.test(text)) return text;
  return text
    .replace(SECRET_ASSIGNMENT, (_match, name: string) => `${name}***`)
    .replace(URL_USERINFO, (_match, scheme: string, userInfo: string) => {
      const colon = userInfo.indexOf(':');
      // A URL with only one user-info part (redis://token@host) may carry the secret there.
      if (colon < 0) return `${scheme}***@`;
      return `${scheme}${userInfo.slice(0, colon)}:***@`;
    })
    .replace(BEARER, (_match, scheme: string) => `${scheme} ${REDACTED}`);
}

/**
 * Returns a copy of `value` safe to serialise into a log line: secret-named fields replaced by
 * `[REDACTED]` (numbers and booleans under such names are kept: they are TTLs, counts and
 * flags like `accessTokenTtlSeconds`, not secrets), strings cleaned by `redactString`, Errors
 * turned into plain objects, cycles cut, depth bounded, bigint as string.
 */
export function redact(value: unknown): unknown {
  return redactValue(value, 0, new WeakSet<object>());
}

function redactValue(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') return redactString(value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'function' || typeof value === 'symbol') return undefined;
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[Truncated]';
  seen.add(value);
  try {
    if (value instanceof Error) return redactError(value, depth, seen);
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
    if (value instanceof URL) return redactString(value.href);
    if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return `[${value.byteLength} bytes]`;
    if (value instanceof Map) return redactEntries([...value.entries()].map(([k, v]) => [String(k), v]), depth, seen);
    if (value instanceof Set) return [...value].map((item) => redactValue(item, depth + 1, seen));
    if (Array.isArray(value)) return value.map((item) => redactValue(item, depth + 1, seen));
    return redactEntries(Object.entries(value), depth, seen);
  } finally {
    seen.delete(value);
  }
}

function redactEntries(entries: Array<[string, unknown]>, depth: number, seen: WeakSet<object>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, item] of entries) {
    if (isSecretKey(key) && item !== null && item !== undefined && typeof item !== 'number' && typeof item !== 'boolean') {
      out[key] = REDACTED;
    } else {
      const cleaned = redactValue(item, depth + 1, seen);
      if (cleaned !== undefined) out[key] = cleaned;
    }
  }
  return out;
}

function redactError(error: Error, depth: number, seen: WeakSet<object>): Record<string, unknown> {
  const own = error as Error & { code?: unknown; details?: unknown; cause?: unknown };
  const out: Record<string, unknown> = { name: error.name, message: redactString(error.message) };
  if (own.code !== undefined) out.code = redactValue(own.code, depth + 1, seen);
  if (own.details !== undefined) out.details = redactValue(own.details, depth + 1, seen);
  if (error.stack) out.stack = redactString(error.stack);
  if (own.cause !== undefined) out.cause = redactValue(own.cause, depth + 1, seen);
  return out;
}
