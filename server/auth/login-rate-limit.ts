/**
 * Login rate limit per account and per client address, counted from the failed sign-ins in
 * `audit_log` within a sliding window (an account's count restarts at its last successful sign-in). The count lives in the database, so every relay
 * process behind a load balancer sees the same number, and it survives a restart.
 */
import { SyncError } from '../../core/errors';
import type { Queryable } from '../db/database';

export interface LoginRateLimitOptions {
  /** Failed sign-ins allowed per account within the window. Default 5. */
  perAccount?: number;
  /** Failed sign-ins allowed per client address within the window. Default 20. */
  perAddress?: number;
  /** Window length in seconds. Default 900. */
  windowSeconds?: number;
}

export const LOGIN_FAILED_ACTION = 'auth.login';

export class LoginRateLimit {
  readonly perAccount: number;
  readonly perAddress: number;
  readonly windowSeconds: number;

  constructor(private readonly db: Queryable, options: LoginRateLimitOptions = {}) {
    this.perAccount = options.perAccount ?? 5;
    this.perAddress = options.perAddress ?? 20;
    this.windowSeconds = options.windowSeconds ?? 900;
  }

  /** Throws AUTH_RATE_LIMITED (details.retryAfterSeconds) when the account or address used up its failures. */
  async check(accountKey: string, ip: string | null | undefined): Promise<void> {
    // An account's count restarts at its last successful sign-in; an address's does not (one
    // good account must not unlock guessing at the others).
    const { rows } = await this.db.query<{ by_account: number; by_address: number }>(
      `WITH recent AS (
         SELECT metadata->>'emailKey' AS email_key, ip, outcome, created_at FROM audit_log
          WHERE action = $3 AND created_at > now() - make_interval(secs => $4)
       ), last_ok AS (
         SELECT max(created_at) AS at FROM recent WHERE outcome = 'ok' AND email_key = $1
       )
       SELECT count(*) FILTER (WHERE email_key = $1 AND created_at > coalesce((SELECT at FROM last_ok), '-infinity'))::int AS by_account,
              count(*) FILTER (WHERE $2::text IS NOT NULL AND ip = $2)::int AS by_address
         FROM recent WHERE outcome = 'denied'`,
      [accountKey, ip ?? null, LOGIN_FAILED_ACTION, this.windowSeconds],
    );
    const counts = rows[0] ?? { by_account: 0, by_address: 0 };
    if (counts.by_account >= this.perAccount || counts.by_address >= this.perAddress) {
      throw new SyncError('AUTH_RATE_LIMITED', 'too many failed sign-ins; try again later', {
        retryAfterSeconds: this.windowSeconds,
        scope: counts.by_account >= this.perAccount ? 'account' : 'address',
      });
    }
  }
}
