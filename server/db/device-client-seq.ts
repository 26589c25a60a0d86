/**
 * The highest `clientSeq` the change log has accepted from one device: what the `welcome`
 * names as `lastClientSeq` (core/protocol/messages.ts). `sync_push_changes` (migrations 0005,
 * 0007) answers every clientSeq at or below it as a replay (a stored one) or as compacted (one
 * compaction removed, remembered per device in `sync_log_heads.compacted_clients`), storing
 * nothing; a device whose outbox started numbering afresh moves its numbering above it.
 */
import type { DeviceId, UserId } from '../../core/ids';
import type { Queryable } from './database';

/**
 * Highest clientSeq of `deviceId` in the user's log, counting changes compaction removed
 * (0 when the device never pushed). One statement: the stored maximum is one backward probe of
 * the unique index on (user_id, device_id, client_seq) (ORDER BY ... LIMIT 1 rather than max(),
 * which stale statistics can turn into a walk over the device's rows), the compacted one a
 * primary-key read. Not locked: a push racing it can only come from another connection of the
 * same device, whose outbox is then anchored already and numbers above anything it pushed.
 */
export async function deviceLastClientSeq(db: Queryable, userId: UserId, deviceId: DeviceId): Promise<number> {
  const { rows } = await db.query<{ last_client_seq: number }>(
    `SELECT greatest(
              coalesce((SELECT client_seq FROM sync_operations WHERE user_id = $1 AND device_id = $2::uuid
                         ORDER BY client_seq DESC LIMIT 1), 0),
              coalesce((SELECT (compacted_clients ->> $3)::bigint FROM sync_log_heads WHERE user_id = $1), 0)
            ) AS last_client_seq`,
    [userId, deviceId, deviceId],
  );
  return Number(rows[0]?.last_client_seq ?? 0);
}
