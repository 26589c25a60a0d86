/**
 * Devices of a user: registration at sign-in, listing, and revocation. Every function takes
 * the authenticated user's id; another user's device id behaves exactly like an unknown one.
 */
import { SyncError } from '../../core/errors';
import type { Queryable, Session } from '../db/database';

/** `web`: the relay's own web page signed in from a browser (POST /v1/auth/web/login). */
export const DEVICE_KINDS = ['vscode', 'cli', 'server', 'web', 'mobile', 'browser', 'other'] as const;
export type DeviceKind = (typeof DEVICE_KINDS)[number];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for a canonical uuid (anything else cannot be an id the relay issued). */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

export interface DeviceInfo {
  id: string;
  name: string;
  kind: string | null;
  platform: string | null;
  clientVersion: string | null;
  createdAt: string;
  lastSeenAt: string | null;
  revokedAt: string | null;
}

export interface NewDevice {
  name: string;
  kind?: string;
  platform?: string;
  clientVersion?: string;
}

/** Registers a device for `userId` (inside the sign-in transaction). */
export async function createDevice(tx: Queryable, userId: string, device: NewDevice): Promise<string> {
  const { rows } = await tx.query<{ id: string }>(
    `INSERT INTO devices (user_id, name, platform, client_version, metadata, last_seen_at)
     VALUES ($1, $2, $3, $4, $5::jsonb, now()) RETURNING id`,
    [userId, device.name, device.platform ?? null, device.clientVersion ?? null, JSON.stringify({ kind: device.kind ?? 'other' })],
  );
  return rows[0]!.id;
}

/** The user's devices, oldest first, revoked ones included (with `revokedAt`). */
export async function listDevices(db: Queryable, userId: string): Promise<DeviceInfo[]> {
  const { rows } = await db.query<{
    id: string; name: string; kind: string | null; platform: string | null; client_version: string | null;
    created_at: Date; last_seen_at: Date | null; revoked_at: Date | null;
  }>(
    `SELECT id, name, metadata->>'kind' AS kind, platform, client_version, created_at, last_seen_at, revoked_at
       FROM devices WHERE user_id = $1 ORDER BY created_at, id`,
    [userId],
  );
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    kind: r.kind,
    platform: r.platform,
    clientVersion: r.client_version,
    createdAt: r.created_at.toISOString(),
    lastSeenAt: r.last_seen_at?.toISOString() ?? null,
    revokedAt: r.revoked_at?.toISOString() ?? null,
  }));
}

/**
 * Marks the device revoked and ends its sessions. Returns the access-token hashes to drop from
 * the cache. DEVICE_NOT_FOUND when the device is not the user's (or does not exist); revoking
 * an already revoked device succeeds again.
 */
export async function revokeDeviceRows(tx: Session, userId: string, deviceId: string, reason: string): Promise<{ accessHashes: string[] }> {
  if (!isUuid(deviceId)) throw deviceNotFound();
  const device = await tx.query(
    'UPDATE devices SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 AND user_id = $2 RETURNING id',
    [deviceId, userId],
  );
  if (device.rowCount === 0) throw deviceNotFound();
  const sessions = await tx.query<{ access_hash: string | null }>(
    `UPDATE sessions SET revoked_at = now(), revoke_reason = $3
      WHERE device_id = $1 AND user_id = $2 AND revoked_at IS NULL
      RETURNING metadata->>'accessHash' AS access_hash`,
    [deviceId, userId, reason],
  );
  return { accessHashes: sessions.rows.map((s) => s.access_hash).filter((h): h is string => !!h) };
}

export function deviceNotFound(): SyncError {
  return new SyncError('DEVICE_NOT_FOUND', 'no such device');
}
