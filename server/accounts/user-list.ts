/**
 * The relay's accounts for the administrator (`roo-sync user list`): email, name, role, how
 * many devices are active, when it was created, whether it is disabled.
 */
import type { Queryable } from '../db/database';

export interface UserSummary {
  id: string;
  email: string;
  displayName: string | null;
  role: string;
  /** Devices not revoked. */
  devices: number;
  createdAt: string;
  disabledAt: string | null;
}

/** Every account, oldest first. */
export async function listUsers(db: Queryable): Promise<UserSummary[]> {
  const { rows } = await db.query<{ id: string; email: string; display_name: string | null; role: string; devices: number | string; created_at: Date | string; disabled_at: Date | string | null }>(
    `SELECT u.id, u.email, u.display_name, u.role, u.created_at, u.disabled_at,
            (SELECT count(*) FROM devices d WHERE d.user_id = u.id AND d.revoked_at IS NULL) AS devices
       FROM users u ORDER BY u.created_at, u.email`,
  );
  return rows.map((r) => ({
    id: r.id,
    email: r.email,
    displayName: r.display_name,
    role: r.role,
    devices: Number(r.devices),
    createdAt: new Date(r.created_at).toISOString(),
    disabledAt: r.disabled_at === null ? null : new Date(r.disabled_at).toISOString(),
  }));
}
