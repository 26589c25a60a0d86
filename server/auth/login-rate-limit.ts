/**
 * Rate limit of password checks (sign-in, and the password confirming an account deletion),
 * counted from the denied attempts in `audit_log` within a sliding window. The count lives in
 * the database, so every relay process behind a load balancer sees the same number, and it
 * survives a restart.
 *
 * Three buckets, as mature sign-in services keep them, so that one attacker cannot lock the
 * real user out:
 * - **account + address** (tight, default 5): guessing one account's password from one
 *   address. It locks that address out of that account only; the right password from another
 *   address still works. Restarts at the account's last successful sign-in from that address.
 * - **account** (loose, default 50): the same account guessed from many addresses. Restarts at
 *   the account's last successful sign-in from any address.
 * - **address** (default 20): one address trying many accounts (credential stuffing). Never
 *   restarts at a success (one good account must not unlock guessing at the others).
 *
 * The attempt that uses up a bucket writes an `auth.lockout` audit row naming the bucket.
 */
import { SyncError } from '../../core/errors';
import type { RelayConfig } from '../config/relay-config';
import type { Queryable } from '../db/database';
import type { Logger } from '../observability/logger';
import { writeAudit, type ClientInfo } from './audit-log';

export interface LoginRateLimitOptions {
  /** Failed password checks allowed per (account, client address) within the window. Default 5. */
  perAccountAddress?: number;
  /** Failed password checks allowed per account, from any address, within the window. Default 50. */
  perAccount?: number;
  /** Failed password checks allowed per client address, for any account, within the window. Default 20. */
  perAddress?: number;
  /** Window length in seconds. Default 900. */
  windowSeconds?: number;
}

export const LOGIN_RATE_LIMIT_DEFAULTS: Required<LoginRateLimitOptions> = Object.freeze({
  perAccountAddress: 5,
  perAccount: 50,
  perAddress: 20,
  windowSeconds: 900,
});

/** The limits as RelayConfig.auth sets them (LOGIN_MAX_FAILURES_*, LOGIN_WINDOW_SECONDS). */
export function loginRateLimitOptions(auth: RelayConfig['auth']): Required<LoginRateLimitOptions> {
  return {
    perAccountAddress: auth.loginMaxFailuresPerAccountAddress,
    perAccount: auth.loginMaxFailuresPerAccount,
    perAddress: auth.loginMaxFailuresPerAddress,
    windowSeconds: auth.loginWindowSeconds,
  };
}

/** Audit action of a sign-in (ok and denied rows; the ok ones restart account counts). */
export const LOGIN_FAILED_ACTION = 'auth.login';
/** Audit action of the password check of `DELETE /v1/account` (denied rows count too). */
export const ACCOUNT_DELETE_ACTION = 'account.delete';
/** Audit action written when an attempt uses up a bucket. */
export const LOCKOUT_ACTION = 'auth.lockout';
const COUNTED_ACTIONS = [LOGIN_FAILED_ACTION, ACCOUNT_DELETE_ACTION];

export type LoginLimitScope = 'account-address' | 'account' | 'address';

/** Denied attempts counted in each bucket (before the attempt being made). */
export interface FailureCounts {
  accountAddress: number;
  account: number;
  address: number;
}

export class LoginRateLimit {
  readonly perAccountAddress: number;
  readonly perAccount: number;
  readonly perAddress: number;
  readonly windowSeconds: number;

  constructor(private readonly db: Queryable, options: LoginRateLimitOptions = {}) {
    this.perAccountAddress = options.perAccountAddress ?? LOGIN_RATE_LIMIT_DEFAULTS.perAccountAddress;
    this.perAccount = options.perAccount ?? LOGIN_RATE_LIMIT_DEFAULTS.perAccount;
    this.perAddress = options.perAddress ?? LOGIN_RATE_LIMIT_DEFAULTS.perAddress;
    this.windowSeconds = options.windowSeconds ?? LOGIN_RATE_LIMIT_DEFAULTS.windowSeconds;
  }

  /**
   * The denied attempts counted against `accountKey` (an emailKey) from `ip`. Throws
   * AUTH_RATE_LIMITED (details.retryAfterSeconds, details.scope) when a bucket is used up:
   * retryAfterSeconds is when enough of that bucket's failures have left the window for the
   * next attempt to be counted again (the HTTP Retry-After), not the whole window.
   */
  async check(accountKey: string, ip: string | null | undefined): Promise<FailureCounts> {
    const { counts, freedInSeconds } = await this.count(accountKey, ip ?? null);
    const scope = this.usedUp(counts);
    if (scope) {
      throw new SyncError('AUTH_RATE_LIMITED', 'too many failed sign-ins; try again later', {
        retryAfterSeconds: Math.min(this.windowSeconds, Math.max(1, freedInSeconds[this.bucket(scope).counted] ?? this.windowSeconds)),
        scope,
      });
    }
    return counts;
  }

  /**
   * Call after a denied attempt (already written to audit_log) with what `check` returned: when
   * this attempt used up a bucket, writes an `auth.lockout` audit row (and a warning) for it.
   */
  async noteFailure(
    before: FailureCounts,
    event: { accountKey: string; userId?: string | null; deviceId?: string | null } & ClientInfo,
    logger?: Logger,
  ): Promise<LoginLimitScope[]> {
    const locked = this.buckets().filter((b) => (event.ip || b.scope !== 'address') && before[b.counted] + 1 >= b.limit);
    for (const { scope, limit } of locked) {
      await writeAudit(
        this.db,
        {
          action: LOCKOUT_ACTION,
          outcome: 'denied',
          userId: scope === 'address' ? null : event.userId,
          deviceId: event.deviceId,
          ip: event.ip,
          userAgent: event.userAgent,
          metadata: { scope, emailKey: event.accountKey, limit, windowSeconds: this.windowSeconds },
        },
        logger,
      );
      logger?.warn('password checks locked out', { scope, limit, windowSeconds: this.windowSeconds, ip: event.ip ?? null });
    }
    return locked.map((b) => b.scope);
  }

  /** The three buckets, most specific first: each names its count and its limit. */
  private buckets(): Array<{ scope: LoginLimitScope; counted: keyof FailureCounts; limit: number }> {
    return [
      { scope: 'account-address', counted: 'accountAddress', limit: this.perAccountAddress },
      { scope: 'account', counted: 'account', limit: this.perAccount },
      { scope: 'address', counted: 'address', limit: this.perAddress },
    ];
  }

  private bucket(scope: LoginLimitScope): { scope: LoginLimitScope; counted: keyof FailureCounts; limit: number } {
    return this.buckets().find((b) => b.scope === scope)!;
  }

  private usedUp(counts: FailureCounts): LoginLimitScope | undefined {
    return this.buckets().find((b) => counts[b.counted] >= b.limit)?.scope;
  }

  /**
   * Each bucket's count, and the seconds until it falls below its limit: when its limit-th
   * newest failure leaves the window (null while under the limit).
   */
  private async count(accountKey: string, ip: string | null): Promise<{ counts: FailureCounts; freedInSeconds: Record<keyof FailureCounts, number | null> }> {
    // An unknown address (NULL) is one bucket of its own for account + address, and is not
    // counted per address.
    const { rows } = await this.db.query<{
      account_address: number; account: number; address: number;
      account_address_freed: number | null; account_freed: number | null; address_freed: number | null;
    }>(
      `WITH recent AS (
         SELECT action, metadata->>'emailKey' AS email_key, ip, outcome, created_at FROM audit_log
          WHERE action = ANY($3::text[]) AND created_at > now() - make_interval(secs => $4)
       ), last_ok AS (
         SELECT coalesce(max(created_at), '-infinity') AS account_at,
                coalesce(max(created_at) FILTER (WHERE ip IS NOT DISTINCT FROM $2::text), '-infinity') AS pair_at
           FROM recent WHERE action = $5 AND outcome = 'ok' AND email_key = $1
       ), denied AS (
         SELECT created_at,
                email_key = $1 AND ip IS NOT DISTINCT FROM $2::text AND created_at > (SELECT pair_at FROM last_ok) AS in_account_address,
                email_key = $1 AND created_at > (SELECT account_at FROM last_ok) AS in_account,
                $2::text IS NOT NULL AND ip = $2::text AS in_address
           FROM recent WHERE outcome = 'denied'
       ), buckets AS (
         SELECT count(*) FILTER (WHERE in_account_address)::int AS account_address,
                count(*) FILTER (WHERE in_account)::int AS account,
                count(*) FILTER (WHERE in_address)::int AS address,
                (array_agg(created_at ORDER BY created_at DESC) FILTER (WHERE in_account_address))[$6] AS account_address_at,
                (array_agg(created_at ORDER BY created_at DESC) FILTER (WHERE in_account))[$7] AS account_at,
                (array_agg(created_at ORDER BY created_at DESC) FILTER (WHERE in_address))[$8] AS address_at
           FROM denied
       )
       SELECT account_address, account, address,
              ceil(extract(epoch FROM account_address_at + make_interval(secs => $4) - now()))::int AS account_address_freed,
              ceil(extract(epoch FROM account_at + make_interval(secs => $4) - now()))::int AS account_freed,
              ceil(extract(epoch FROM address_at + make_interval(secs => $4) - now()))::int AS address_freed
         FROM buckets`,
      [accountKey, ip, COUNTED_ACTIONS, this.windowSeconds, LOGIN_FAILED_ACTION, this.perAccountAddress, this.perAccount, this.perAddress],
    );
    const row = rows[0];
    return {
      counts: { accountAddress: row?.account_address ?? 0, account: row?.account ?? 0, address: row?.address ?? 0 },
      freedInSeconds: { accountAddress: row?.account_address_freed ?? null, account: row?.account_freed ?? null, address: row?.address_freed ?? null },
    };
  }
}
