/**
 * The highest `clientSeq` the change log has accepted from one device: what the `welcome`
 * names as `lastClientSeq` (core/protocol/messages.ts). `sync_push_changes` (migrations 0005,
 * 0007) answers every clientSeq at or below it as a replay (a stored one) or as compacted (one
 * compaction removed, remembered per device in `sync_log_heads.compacted_clients`), storing
 * nothing; a device whose outbox started numbering afresh moves its numbering above it.
 */
import type { DeviceId, UserId } from '../../core/ids';
import type { LogHead } from './change-log';
import type { Queryable } from './database';

/** What a `welcome` tells a device about the log: its head and the device's own high-water mark. */
export interface DeviceLogPosition {
  head: LogHead;
  /** Highest clientSeq of the device in the log, counting compacted changes (0 if it never pushed). */
  lastClientSeq: number;
}

/**
 * The user's log head and the highest clientSeq of `deviceId` in it, counting changes
 * compaction removed, in one statement (one round trip, one snapshot). The stored maximum is
 * one backward probe of the unique index on (user_id, device_id, client_seq) (ORDER BY ...
 * LIMIT 1 rather than max(), which stale statistics can turn into a walk over the device's
 * rows), the head and the compacted maximum a primary-key read. Not locked: a push racing it
 * can only come from another connection of the same device, whose outbox is then anchored
 * already and numbers above anything it pushed.
 */
export async function deviceLogPosition(db: Queryable, userId: UserId, deviceId: DeviceId): Promise<DeviceLogPosition> {
  const { rows } = await db.query<{ seq: number | null; compacted_seq: number | null; compacted_at: Date | null; last_client_seq: number }>(
    `SELECT h.seq, h.compacted_seq, h.compacted_at,
            greatest(
              coalesce((SELECT client_seq FROM sync_operations WHERE user_id = $1 AND device_id = $2::uuid
                         ORDER BY client_seq DESC LIMIT 1), 0),
              coalesce((h.compacted_clients ->> $3)::bigint, 0)
            ) AS last_client_seq
       FROM (SELECT 1) AS one LEFT JOIN sync_log_heads h ON h.user_id = $1`,
    [userId, deviceId, deviceId],
  );
  const row = rows[0]!;
  return {
    head: { seq: Number(row.seq ?? 0), compactedSeq: Number(row.compacted_seq ?? 0), compactedAt: row.compacted_at },
    lastClientSeq: Number(row.last_client_seq),
  };
}

/** Highest clientSeq of `deviceId` in the user's log, counting compacted changes (0 when the device never pushed). */
export async function deviceLastClientSeq(db: Queryable, userId: UserId, deviceId: DeviceId): Promise<number> {
  return (await deviceLogPosition(db, userId, deviceId)).lastClientSeq;
}
