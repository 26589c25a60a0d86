/**
 * Opaque bearer tokens. Only their sha256 is stored (sessions.refresh_token_hash and the
 * session's `accessHash`), so a database dump holds no usable token.
 *
 * - Access token: `rsa_<session uuid>_<43 chars base64url>`. The session id lets validation
 *   find its row by primary key; the random part is what proves possession.
 * - Refresh token: `rsr_<43 chars base64url>`, looked up by its hash (unique index).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const ACCESS = /^rsa_([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})_[A-Za-z0-9_-]{43}$/;
const REFRESH = /^rsr_[A-Za-z0-9_-]{43}$/;

function secret(): string {
  return randomBytes(32).toString('base64url');
}

/** A new access token bound to session row `sessionId`. */
export function newAccessToken(sessionId: string): string {
  return `rsa_${sessionId}_${secret()}`;
}

/** A new refresh token. */
export function newRefreshToken(): string {
  return `rsr_${secret()}`;
}

/** The stored form of a token (sha256 hex). */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** The session id inside a well-formed access token, or null. */
export function accessTokenSessionId(token: unknown): string | null {
  if (typeof token !== 'string') return null;
  return ACCESS.exec(token)?.[1] ?? null;
}

/** True when `token` has the refresh-token shape. */
export function isRefreshTokenShape(token: unknown): token is string {
  return typeof token === 'string' && REFRESH.test(token);
}

/** Constant-time comparison of two hex hashes. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}
