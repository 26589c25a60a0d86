/**
 * User accounts: creation by an admin (CLI) or by sign-up when allowed, lookup by email, and
 * deletion of an account with every row and blob it owns.
 */
import { SyncError } from '../../core/errors';
import type { Database, Queryable } from '../db/database';
import { checkNewPassword, hashPassword } from '../auth/passwords';

export const EMAIL_MAX_LENGTH = 254;
const EMAIL = /^[^\s@]+@[^\s@]+$/;

export interface UserRecord {
  id: string;
  email: string;
  passwordHash: string;
  disabledAt: Date | null;
}

/** Trimmed email when it looks like one; EMAIL_INVALID otherwise. */
export function normaliseEmail(email: unknown): string {
  if (typeof email !== 'string') throw new SyncError('EMAIL_INVALID', 'email must be a string');
  const trimmed = email.trim();
  if (trimmed.length === 0 || trimmed.length > EMAIL_MAX_LENGTH || !EMAIL.test(trimmed)) {
    throw new SyncError('EMAIL_INVALID', 'email is not a valid address');
  }
  return trimmed;
}

/** Creates a user; USER_EXISTS when the email (case-insensitive) is taken, PASSWORD_INVALID, EMAIL_INVALID. */
export async function createUser(db: Queryable, input: { email: string; password: string; displayName?: string }): Promise<{ id: string; email: string }> {
  const email = normaliseEmail(input.email);
  checkNewPassword(input.password);
  const passwordHash = await hashPassword(input.password);
  const { rows } = await db.query<{ id: string; email: string }>(
    `INSERT INTO users (email, password_hash, display_name) VALUES ($1, $2, $3)
     ON CONFLICT ((lower(email))) DO NOTHING
     RETURNING id, email`,
    [email, passwordHash, input.displayName ?? null],
  );
  const row = rows[0];
  if (!row) throw new SyncError('USER_EXISTS', 'a user with this email exists');
  return row;
}

/** The user with this email (case-insensitive), or null. */
export async function findUserByEmail(db: Queryable, email: string): Promise<UserRecord | null> {
  const { rows } = await db.query<{ id: string; email: string; password_hash: string; disabled_at: Date | null }>(
    'SELECT id, email, password_hash, disabled_at FROM users WHERE lower(email) = lower($1)',
    [email.trim()],
  );
  const row = rows[0];
  return row ? { id: row.id, email: row.email, passwordHash: row.password_hash, disabledAt: row.disabled_at } : null;
}

/** The user with this id, or null. */
export async function findUserById(db: Queryable, userId: string): Promise<UserRecord | null> {
  const { rows } = await db.query<{ id: string; email: string; password_hash: string; disabled_at: Date | null }>(
    'SELECT id, email, password_hash, disabled_at FROM users WHERE id = $1',
    [userId],
  );
  const row = rows[0];
  return row ? { id: row.id, email: row.email, passwordHash: row.password_hash, disabledAt: row.disabled_at } : null;
}

export interface DeletedAccount {
  /** Devices the account had (announce them revoked so their sockets close). */
  deviceIds: string[];
  /** Access-token hashes to drop from the session cache. */
  accessHashes: string[];
}

/**
 * Deletes the user and everything that is theirs, in one transaction: devices, sessions,
 * workspaces, tasks and their streams, file states, the change log, commands, blobs and their
 * chunks (foreign keys cascade from `users`), plus the user's own audit rows. USER_NOT_FOUND
 * when there is no such user.
 */
export async function deleteAccount(db: Database, userId: string): Promise<DeletedAccount> {
  return db.transaction(async (tx) => {
    const devices = await tx.query<{ id: string }>('SELECT id FROM devices WHERE user_id = $1', [userId]);
    const sessions = await tx.query<{ access_hash: string | null }>(
      `SELECT metadata->>'accessHash' AS access_hash FROM sessions WHERE user_id = $1`,
      [userId],
    );
    // Rows keyed by user without a foreign key to users (file history hangs off workspaces, which cascade).
    await tx.query('DELETE FROM file_sync_state WHERE user_id = $1', [userId]);
    await tx.query('DELETE FROM file_changes WHERE user_id = $1', [userId]);
    await tx.query('DELETE FROM audit_log WHERE user_id = $1 OR device_id = ANY($2::uuid[])', [userId, devices.rows.map((d) => d.id)]);
    const deleted = await tx.query('DELETE FROM users WHERE id = $1', [userId]);
    if (deleted.rowCount === 0) throw new SyncError('USER_NOT_FOUND', 'no such user');
    return {
      deviceIds: devices.rows.map((d) => d.id),
      accessHashes: sessions.rows.map((s) => s.access_hash).filter((h): h is string => !!h),
    };
  });
}
