/**
 * Login rate limit per account and per client address, counted from the failed sign-ins in
 * `audit_log` within a sliding window. The count lives in the database, so every relay
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
    const { rows } = await this.db.query<{ by_account: number; by_address: number }>(
      `SELECT count(*) FILTER (WHERE metadata->>'emailKey' = $1)::int AS by_account,
              count(*) FILTER (WHERE $2::text IS NOT NULL AND ip = $2)::int AS by_address
         FROM audit_log
        WHERE action = $3 AND outcome = 'denied' AND created_at > now() - make_interval(secs => $4)`,
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
