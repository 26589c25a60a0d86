/**
 * Sign-in, token refresh with rotation, sign-out and device revocation.
 *
 * - login: email + password (+ device name/kind/platform) -> a new device, a short-lived access
 *   token and a refresh token. Failed attempts are audited and rate-limited per account and
 *   address, per account and per address (LoginRateLimit).
 * - confirmPassword: the password check of a sensitive action (account deletion), counted in
 *   the same rate limit as sign-ins.
 * - refresh: a refresh token is good once. Using it marks its row rotated and issues a new pair
 *   in the same family. Presenting a rotated token again is theft: the whole family and the
 *   device are revoked (as `revokeDevice` does), its sockets are closed, and the answer is
 *   AUTH_REFRESH_REUSED. One exception, the reuse grace (`refreshReuseGraceSeconds`, the OAuth
 *   "refresh token reuse interval"): the token rotated last in its family, presented again
 *   within the grace after its rotation while the pair it was traded for was never used (its
 *   refresh token not rotated, its access token never accepted), is a client that lost the
 *   answer (killed before it saved the new token, or the response dropped): the unused pair is
 *   revoked (`refresh-replaced`) and a new one issued in its place. The grace is counted from
 *   the first rotation, so presenting the old token again does not extend it.
 * - logout: revokes the calling device (its sessions end, its sockets close).
 */
import { randomUUID } from 'node:crypto';
import { SyncError } from '../../core/errors';
import type { Database } from '../db/database';
import { silentLogger, type Logger } from '../observability/logger';
import { createDevice, listDevices, revokeDeviceRows, type DeviceInfo, type NewDevice } from '../accounts/devices';
import { findUserByEmail, findUserById, normaliseEmail } from '../accounts/users';
import type { SessionValidator } from './access-tokens';
import { emailKey, writeAudit, type ClientInfo } from './audit-log';
import { LOGIN_FAILED_ACTION, LoginRateLimit, type FailureCounts } from './login-rate-limit';
import { verifyPassword } from './passwords';
import { isRefreshTokenShape, newAccessToken, newRefreshToken, tokenHash } from './tokens';

export interface TokenPair {
  accessToken: string;
  /** Access token expiry, ISO 8601. */
  accessTokenExpiresAt: string;
  refreshToken: string;
  refreshTokenExpiresAt: string;
}

export interface LoginResult extends TokenPair {
  userId: string;
  deviceId: string;
}

export interface AuthServiceOptions {
  db: Database;
  sessions: SessionValidator;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  /** The reuse grace (see the module doc), seconds; 0 turns it off. */
  refreshReuseGraceSeconds?: number;
  rateLimit?: LoginRateLimit;
  logger?: Logger;
}

export class AuthService {
  private readonly db: Database;
  private readonly logger: Logger;
  readonly rateLimit: LoginRateLimit;

  constructor(private readonly options: AuthServiceOptions) {
    this.db = options.db;
    this.logger = options.logger ?? silentLogger;
    this.rateLimit = options.rateLimit ?? new LoginRateLimit(options.db);
  }

  /** AUTH_INVALID_CREDENTIALS (same answer for an unknown email and a wrong password), AUTH_RATE_LIMITED. */
  async login(input: { email: string; password: string; device: NewDevice }, client: ClientInfo = {}): Promise<LoginResult> {
    const email = normaliseEmail(input.email);
    const key = emailKey(email);
    const counts = await this.checkRateLimit(key, 'auth.login.rate_limited', {}, client);
    const user = await findUserByEmail(this.db, email);
    const ok = await verifyPassword(input.password, user?.passwordHash);
    if (!user || !ok || user.disabledAt) {
      await writeAudit(this.db, { action: LOGIN_FAILED_ACTION, outcome: 'denied', userId: user?.id, ...client, metadata: { emailKey: key } }, this.logger);
      await this.rateLimit.noteFailure(counts, { accountKey: key, userId: user?.id, ...client }, this.logger);
      throw new SyncError('AUTH_INVALID_CREDENTIALS', 'email or password is wrong');
    }
    const result = await this.db.transaction(async (tx) => {
      const deviceId = await createDevice(tx, user.id, input.device);
      const { sessionId: _sessionId, ...pair } = await this.issue(tx, user.id, deviceId, randomUUID(), client);
      return { userId: user.id, deviceId, ...pair };
    });
    await writeAudit(this.db, { action: 'auth.login', userId: user.id, deviceId: result.deviceId, ...client, metadata: { emailKey: key } }, this.logger);
    return result;
  }

  /**
   * Checks the signed-in user's password before a sensitive action (`action`, the audit action
   * of a denial, e.g. `account.delete`). Counted in the sign-in rate limit: AUTH_RATE_LIMITED
   * when the account or address used up its failures, AUTH_INVALID_CREDENTIALS when wrong.
   */
  async confirmPassword(userId: string, deviceId: string, password: string, action: string, client: ClientInfo = {}): Promise<void> {
    const user = await findUserById(this.db, userId);
    if (!user) throw new SyncError('AUTH_INVALID_CREDENTIALS', 'the password is wrong');
    const key = emailKey(user.email);
    const counts = await this.checkRateLimit(key, `${action}.rate_limited`, { userId, deviceId }, client);
    if (!(await verifyPassword(password, user.passwordHash))) {
      await writeAudit(this.db, { action, outcome: 'denied', userId, deviceId, ...client, metadata: { emailKey: key } }, this.logger);
      await this.rateLimit.noteFailure(counts, { accountKey: key, userId, deviceId, ...client }, this.logger);
      throw new SyncError('AUTH_INVALID_CREDENTIALS', 'the password is wrong');
    }
  }

  /** AUTH_TOKEN_INVALID (unknown, expired or revoked), AUTH_REFRESH_REUSED (a rotated token again: its family and device are revoked). */
  async refresh(refreshToken: unknown, client: ClientInfo = {}): Promise<LoginResult> {
    if (!isRefreshTokenShape(refreshToken)) throw invalidToken();
    const hash = tokenHash(refreshToken);
    const outcome = await this.db.transaction(async (tx) => {
      const { rows } = await tx.query<{
        id: string; user_id: string; device_id: string; family_id: string; expires_at: Date;
        rotated_at: Date | null; revoked_at: Date | null; access_hash: string | null; device_revoked: Date | null;
        successor: string | null; within_grace: boolean;
      }>(
        `SELECT s.id, s.user_id, s.device_id, s.family_id, s.expires_at, s.rotated_at, s.revoked_at,
                s.metadata->>'accessHash' AS access_hash, d.revoked_at AS device_revoked,
                s.metadata->>'successor' AS successor,
                coalesce(s.rotated_at > now() - make_interval(secs => $2), false) AS within_grace
           FROM sessions s JOIN devices d ON d.id = s.device_id
          WHERE s.refresh_token_hash = $1
          FOR UPDATE OF s`,
        [hash, this.options.refreshReuseGraceSeconds ?? 0],
      );
      const row = rows[0];
      if (!row) return { kind: 'invalid' as const };
      if (row.rotated_at && !row.revoked_at && row.within_grace && row.successor && !row.device_revoked && row.expires_at.getTime() > Date.now()) {
        // The reuse grace: the pair this token was traded for, if it was never used, is replaced.
        const replaced = await tx.query<{ access_hash: string | null }>(
          `UPDATE sessions SET revoked_at = now(), revoke_reason = 'refresh-replaced'
            WHERE id = $1 AND family_id = $2 AND rotated_at IS NULL AND revoked_at IS NULL AND last_used_at IS NULL
            RETURNING metadata->>'accessHash' AS access_hash`,
          [row.successor, row.family_id],
        );
        if (replaced.rowCount === 1) {
          const pair = await this.issue(tx, row.user_id, row.device_id, row.family_id, client);
          await tx.query(`UPDATE sessions SET metadata = metadata || jsonb_build_object('successor', $2::text) WHERE id = $1`, [row.id, pair.sessionId]);
          return { kind: 'rotated' as const, row: { ...row, access_hash: replaced.rows[0]!.access_hash }, pair, graced: true };
        }
      }
      if (row.rotated_at && !row.revoked_at) {
        const revoked = await tx.query<{ access_hash: string | null }>(
          `UPDATE sessions SET revoked_at = now(), revoke_reason = 'refresh-reuse'
            WHERE family_id = $1 AND revoked_at IS NULL RETURNING metadata->>'accessHash' AS access_hash`,
          [row.family_id],
        );
        // The device can never refresh again: revoke it too, so device lists show it revoked
        // and its queued commands fail (as a revocation through DELETE /v1/devices/:id does).
        const device = await revokeDeviceRows(tx, row.user_id, row.device_id, 'refresh-reuse');
        return { kind: 'reused' as const, row, accessHashes: [...revoked.rows.map((r) => r.access_hash), ...device.accessHashes] };
      }
      if (row.revoked_at || row.rotated_at || row.device_revoked || row.expires_at.getTime() <= Date.now()) {
        return { kind: 'invalid' as const, row };
      }
      await tx.query('UPDATE devices SET last_seen_at = now() WHERE id = $1', [row.device_id]);
      const pair = await this.issue(tx, row.user_id, row.device_id, row.family_id, client);
      // `successor` names the pair this token was traded for (the reuse grace replaces it if unused).
      await tx.query(
        `UPDATE sessions SET rotated_at = now(), last_used_at = now(), metadata = metadata || jsonb_build_object('successor', $2::text) WHERE id = $1`,
        [row.id, pair.sessionId],
      );
      return { kind: 'rotated' as const, row, pair, graced: false };
    });
    if (outcome.kind === 'reused') {
      const { row } = outcome;
      await this.options.sessions.forget([...outcome.accessHashes, row.access_hash]);
      await this.options.sessions.announceRevoked([row.device_id]);
      await writeAudit(this.db, { action: 'auth.refresh.reuse', outcome: 'denied', userId: row.user_id, deviceId: row.device_id, ...client, metadata: { familyId: row.family_id } }, this.logger);
      await writeAudit(this.db, { action: 'device.revoke', userId: row.user_id, deviceId: row.device_id, ...client, metadata: { reason: 'refresh-reuse' } }, this.logger);
      this.logger.warn('rotated refresh token presented again; session family and device revoked', { userId: row.user_id, deviceId: row.device_id });
      throw new SyncError('AUTH_REFRESH_REUSED', 'this refresh token was already used; the session has been revoked');
    }
    if (outcome.kind === 'invalid') {
      await writeAudit(this.db, { action: 'auth.refresh', outcome: 'denied', userId: outcome.row?.user_id, deviceId: outcome.row?.device_id, ...client }, this.logger);
      throw invalidToken();
    }
    await this.options.sessions.forget([outcome.row.access_hash]);
    await writeAudit(this.db, {
      action: 'auth.refresh', userId: outcome.row.user_id, deviceId: outcome.row.device_id, ...client,
      ...(outcome.graced ? { metadata: { reuseGrace: true, familyId: outcome.row.family_id } } : {}),
    }, this.logger);
    if (outcome.graced) this.logger.info('rotated refresh token presented again within the reuse grace; its unused successor replaced', { userId: outcome.row.user_id, deviceId: outcome.row.device_id });
    const { sessionId: _sessionId, ...pair } = outcome.pair;
    return { userId: outcome.row.user_id, deviceId: outcome.row.device_id, ...pair };
  }

  /** Signs the calling device out: it is revoked like `revokeDevice`. */
  async logout(userId: string, deviceId: string, client: ClientInfo = {}): Promise<void> {
    await this.revoke(userId, deviceId, 'logout', client);
  }

  /** The user's devices (DeviceInfo[]). */
  listDevices(userId: string): Promise<DeviceInfo[]> {
    return listDevices(this.db, userId);
  }

  /** Revokes one of the user's devices; DEVICE_NOT_FOUND when it is not theirs. Its sockets close on every relay. */
  async revokeDevice(userId: string, deviceId: string, client: ClientInfo = {}): Promise<void> {
    await this.revoke(userId, deviceId, 'revoked', client);
  }

  private async revoke(userId: string, deviceId: string, reason: string, client: ClientInfo): Promise<void> {
    const { accessHashes } = await this.db.transaction((tx) => revokeDeviceRows(tx, userId, deviceId, reason));
    await this.options.sessions.forget(accessHashes);
    await this.options.sessions.announceRevoked([deviceId]);
    await writeAudit(this.db, { action: reason === 'logout' ? 'auth.logout' : 'device.revoke', userId, deviceId, ...client }, this.logger);
  }

  /** Rate-limit check of a password attempt; a refused attempt is audited as `refusedAction`. */
  private async checkRateLimit(
    key: string,
    refusedAction: string,
    who: { userId?: string; deviceId?: string },
    client: ClientInfo,
  ): Promise<FailureCounts> {
    try {
      return await this.rateLimit.check(key, client.ip);
    } catch (err) {
      await writeAudit(this.db, { action: refusedAction, outcome: 'denied', ...who, ...client, metadata: { emailKey: key } }, this.logger);
      throw err;
    }
  }

  /** Stores a new session row (refresh token hash, access token hash and expiry) and returns the tokens. */
  private async issue(tx: Pick<Database, 'query'>, userId: string, deviceId: string, familyId: string, client: ClientInfo): Promise<TokenPair & { sessionId: string }> {
    const sessionId = randomUUID();
    const accessToken = newAccessToken(sessionId);
    const refreshToken = newRefreshToken();
    const now = Date.now();
    const accessExpiresAt = now + this.options.accessTokenTtlSeconds * 1000;
    const refreshExpiresAt = new Date(now + this.options.refreshTokenTtlSeconds * 1000);
    await tx.query(
      `INSERT INTO sessions (id, user_id, device_id, family_id, refresh_token_hash, expires_at, user_agent, ip, metadata)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)`,
      [
        sessionId, userId, deviceId, familyId, tokenHash(refreshToken), refreshExpiresAt,
        client.userAgent ? client.userAgent.slice(0, 256) : null, client.ip ?? null,
        JSON.stringify({ accessHash: tokenHash(accessToken), accessExpiresAt }),
      ],
    );
    return {
      sessionId,
      accessToken,
      accessTokenExpiresAt: new Date(accessExpiresAt).toISOString(),
      refreshToken,
      refreshTokenExpiresAt: refreshExpiresAt.toISOString(),
    };
  }
}

function invalidToken(): SyncError {
  return new SyncError('AUTH_TOKEN_INVALID', 'the token is invalid, expired or revoked');
}
