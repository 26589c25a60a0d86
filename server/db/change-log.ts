/**
 * The per-user change log (DESIGN.md "Ordering, idempotency, cursors"): the SQL behind push,
 * pull and compaction. Every function takes the authenticated user's id and touches nothing else.
 *
 * - `appendChanges` stores a device's changes in one transaction. It first locks the user's
 *   counter row in `sync_log_heads`, so appends of one user run one at a time and their
 *   numbers commit in order: a reader never sees seq 11 before seq 10.
 * - `(deviceId, clientSeq)` is unique: a replayed change is acknowledged again with its
 *   original seq and stored once.
 * - A change to an entity that does not merge (`isMergeable`) conflicts when another device
 *   changed that entity after the change's `baseSeq`.
 */
import { SyncError } from '../../core/errors';
import type { DeviceId, UserId } from '../../core/ids';
import {
  entityKeyOf,
  isMergeable,
  type ChangeBody,
  type ClientChange,
  type ServerChange,
  type TaskMetaBody,
} from '../../core/model/changes';
import { MAX_PULL_LIMIT, type AcceptedChange, type ChangeConflict } from '../../core/protocol/messages';
import { foldMetaBodies } from '../../core/merge/metadata-merge';
import type { Database, Queryable, Session } from './database';

export const ChangeLogErrorCode = {
  /** A pushed change is malformed (clientSeq, baseSeq or body type), or repeats a clientSeq in one push. */
  CHANGE_INVALID: 'CHANGE_INVALID',
  /** A pull's cursor or limit is out of range. */
  PULL_INVALID: 'PULL_INVALID',
  /** The cursor is older than the log's compaction point: the device must pull from 0 (a full resync). */
  CURSOR_COMPACTED: 'CURSOR_COMPACTED',
} as const;

const CHANGE_TYPES = new Set<ChangeBody['type']>([
  'task.meta',
  'task.delete',
  'stream.put',
  'stream.truncate',
  'file.put',
  'file.delete',
]);

export interface AppendResult {
  /** One entry per accepted change, in push order; a replay carries its original seq. */
  accepted: AcceptedChange[];
  /** Changes refused for a stale baseSeq; the device resolves and pushes again. */
  conflicts: ChangeConflict[];
  /** The changes newly stored by this call, in seq order (to fan out to the user's other devices). */
  stored: ServerChange[];
}

export interface PullResult {
  changes: ServerChange[];
  /** Pull from here next: the last seq returned, or the given cursor when there was nothing. */
  cursor: number;
  hasMore: boolean;
}

export interface LogHead {
  /** Highest seq in the user's log (0: empty). */
  seq: number;
  /** Changes at or below this seq may have been compacted away (0: never compacted). */
  compactedSeq: number;
  compactedAt: Date | null;
}

export interface CompactResult {
  /** Rows removed. */
  removed: number;
  /** The log's compaction point after this run. */
  compactedSeq: number;
}

interface LogRow {
  seq: number;
  device_id: string;
  client_seq: number;
  base_seq: number | null;
  entity: string;
  body: ChangeBody;
}

const LOG_COLUMNS = 'seq, device_id, client_seq, base_seq, entity, body';

/** Stores `changes` pushed by `deviceId` in the user's log (one transaction). */
export async function appendChanges(
  db: Database,
  userId: UserId,
  deviceId: DeviceId,
  changes: readonly ClientChange[],
): Promise<AppendResult> {
  validateChanges(changes);
  if (changes.length === 0) return { accepted: [], conflicts: [], stored: [] };
  return db.transaction((tx) => appendInTransaction(tx, userId, deviceId, changes));
}

async function appendInTransaction(
  tx: Session,
  userId: UserId,
  deviceId: DeviceId,
  changes: readonly ClientChange[],
): Promise<AppendResult> {
  // Creates the counter row on first use and locks it for the rest of the transaction.
  const head = await tx.query<{ seq: number; compacted_seq: number; compacted_clients: Record<string, number> }>(
    `INSERT INTO sync_log_heads AS h (user_id) VALUES ($1)
     ON CONFLICT (user_id) DO UPDATE SET updated_at = h.updated_at
     RETURNING h.seq, h.compacted_seq, h.compacted_clients`,
    [userId],
  );
  const { compacted_seq: compactedSeq, compacted_clients: compactedClients } = head.rows[0]!;
  const compactedClientSeq = Number(compactedClients[deviceId] ?? 0);

  const replayed = await tx.query<{ client_seq: number; seq: number }>(
    `SELECT client_seq, seq FROM sync_operations
      WHERE user_id = $1 AND device_id = $2 AND client_seq = ANY($3::bigint[])`,
    [userId, deviceId, changes.map((c) => c.clientSeq)],
  );
  const originalSeq = new Map(replayed.rows.map((r) => [r.client_seq, r.seq]));

  const fresh = changes.filter((c) => !originalSeq.has(c.clientSeq) && c.clientSeq > compactedClientSeq);
  const current = await currentVersions(
    tx,
    userId,
    deviceId,
    fresh.filter((c) => !isMergeable(c.body)).map((c) => entityKeyOf(c.body)),
  );

  const conflicts: ChangeConflict[] = [];
  const toStore: Array<{ change: ClientChange; entity: string }> = [];
  for (const change of fresh) {
    const entity = entityKeyOf(change.body);
    const version = isMergeable(change.body) ? undefined : current.get(entity);
    if (version && version.otherSeq !== null && version.otherSeq > (change.baseSeq ?? 0)) {
      conflicts.push({ clientSeq: change.clientSeq, entity, current: version.latest });
    } else {
      toStore.push({ change, entity });
    }
  }

  const stored: ServerChange[] = [];
  if (toStore.length > 0) {
    const bumped = await tx.query<{ seq: number }>(
      'UPDATE sync_log_heads SET seq = seq + $2, updated_at = now() WHERE user_id = $1 RETURNING seq',
      [userId, toStore.length],
    );
    const first = bumped.rows[0]!.seq - toStore.length + 1;
    toStore.forEach(({ change, entity }, i) => {
      stored.push({ seq: first + i, deviceId, clientSeq: change.clientSeq, baseSeq: change.baseSeq, body: change.body, entity });
    });
    await insertChanges(tx, userId, deviceId, stored);
    await markSuperseded(tx, userId, stored);
  }

  const newSeq = new Map(stored.map((s) => [s.clientSeq, s.seq]));
  const conflicted = new Set(conflicts.map((c) => c.clientSeq));
  const accepted: AcceptedChange[] = [];
  for (const change of changes) {
    if (conflicted.has(change.clientSeq)) continue;
    // A replay of a change that compaction removed is acknowledged at the compaction point.
    const seq = originalSeq.get(change.clientSeq) ?? newSeq.get(change.clientSeq) ?? compactedSeq;
    accepted.push({ clientSeq: change.clientSeq, seq });
  }
  return { accepted, conflicts, stored };
}

interface EntityVersion {
  latest: ServerChange;
  /** Latest seq written by another device (null: none). */
  otherSeq: number | null;
}

async function currentVersions(
  tx: Queryable,
  userId: UserId,
  deviceId: DeviceId,
  entities: string[],
): Promise<Map<string, EntityVersion>> {
  const versions = new Map<string, EntityVersion>();
  if (entities.length === 0) return versions;
  const { rows } = await tx.query<LogRow & { other_seq: number | null }>(
    `SELECT cur.seq, cur.device_id, cur.client_seq, cur.base_seq, cur.entity, cur.body, other.seq AS other_seq
       FROM unnest($2::text[]) AS e(entity)
       JOIN LATERAL (
         SELECT ${LOG_COLUMNS} FROM sync_operations s
          WHERE s.user_id = $1 AND s.entity = e.entity ORDER BY s.seq DESC LIMIT 1
       ) cur ON true
       LEFT JOIN LATERAL (
         SELECT s.seq FROM sync_operations s
          WHERE s.user_id = $1 AND s.entity = e.entity AND s.device_id <> $3 ORDER BY s.seq DESC LIMIT 1
       ) other ON true`,
    [userId, [...new Set(entities)], deviceId],
  );
  for (const row of rows) versions.set(row.entity, { latest: toServerChange(row), otherSeq: row.other_seq });
  return versions;
}

async function insertChanges(tx: Queryable, userId: UserId, deviceId: DeviceId, stored: ServerChange[]): Promise<void> {
  const records = stored.map((s) => ({
    seq: s.seq,
    client_seq: s.clientSeq,
    base_seq: s.baseSeq,
    entity: s.entity,
    change_type: s.body.type,
    body: s.body,
  }));
  await tx.query(
    `INSERT INTO sync_operations (user_id, device_id, seq, client_seq, base_seq, entity, change_type, body)
     SELECT $1, $2, r.seq, r.client_seq, r.base_seq, r.entity, r.change_type, r.body
       FROM json_to_recordset($3::json)
         AS r(seq bigint, client_seq bigint, base_seq bigint, entity text, change_type text, body json)`,
    [userId, deviceId, JSON.stringify(records)],
  );
}

/**
 * Marks every older version of the entities just written as superseded (compaction removes
 * those). Truncates are never superseded: an older truncate still removes entries that a newer
 * one (with a later `afterKey`) would leave, so dropping it would bring deleted entries back.
 */
async function markSuperseded(tx: Queryable, userId: UserId, stored: ServerChange[]): Promise<void> {
  const latest = new Map<string, number>();
  for (const s of stored) latest.set(s.entity, s.seq);
  await tx.query(
    `UPDATE sync_operations o SET status = 'superseded'
       FROM json_to_recordset($2::json) AS l(entity text, seq bigint)
      WHERE o.user_id = $1 AND o.entity = l.entity AND o.seq < l.seq AND o.status = 'applied'
        AND o.change_type <> 'stream.truncate'`,
    [userId, JSON.stringify([...latest].map(([entity, seq]) => ({ entity, seq })))],
  );
}

/**
 * One page of the user's log after `cursor`, in seq order. Throws CURSOR_COMPACTED when
 * changes after `cursor` may have been compacted away (pull from 0 instead).
 */
export async function pullChanges(db: Queryable, userId: UserId, cursor: number, limit: number): Promise<PullResult> {
  if (!Number.isSafeInteger(cursor) || cursor < 0) {
    throw new SyncError(ChangeLogErrorCode.PULL_INVALID, 'cursor must be an integer >= 0', { cursor });
  }
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_PULL_LIMIT) {
    throw new SyncError(ChangeLogErrorCode.PULL_INVALID, `limit must be an integer in 1..${MAX_PULL_LIMIT}`, { limit });
  }
  // One statement, one snapshot: the page and the compaction point agree. An empty page needs
  // no check: the newest change of the log is never compacted, so a compacted gap has rows above it.
  const { rows } = await db.query<LogRow & { compacted_seq: number | null }>(
    `SELECT ${LOG_COLUMNS}, (SELECT compacted_seq FROM sync_log_heads WHERE user_id = $1) AS compacted_seq
       FROM sync_operations WHERE user_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
    [userId, cursor, limit + 1],
  );
  const compactedSeq = rows[0]?.compacted_seq ?? 0;
  if (cursor > 0 && cursor < compactedSeq) {
    throw new SyncError(
      ChangeLogErrorCode.CURSOR_COMPACTED,
      `cursor ${cursor} is older than the log's compaction point ${compactedSeq}; pull from 0`,
      { cursor, compactedSeq },
    );
  }
  const hasMore = rows.length > limit;
  const page = (hasMore ? rows.slice(0, limit) : rows).map(toServerChange);
  return { changes: page, cursor: page.length > 0 ? page[page.length - 1]!.seq : cursor, hasMore };
}

/** The user's log position and compaction point (zeros for a user who never pushed). */
export async function logHead(db: Queryable, userId: UserId): Promise<LogHead> {
  const { rows } = await db.query<{ seq: number; compacted_seq: number; compacted_at: Date | null }>(
    'SELECT seq, compacted_seq, compacted_at FROM sync_log_heads WHERE user_id = $1',
    [userId],
  );
  const row = rows[0];
  return row
    ? { seq: row.seq, compactedSeq: row.compacted_seq, compactedAt: row.compacted_at }
    : { seq: 0, compactedSeq: 0, compactedAt: null };
}

/**
 * Removes superseded changes stored before `olderThan`, keeping the latest change of every
 * entity, and moves the compaction point to the highest seq removed. Task metadata changes
 * carry only the fields that changed, so the removed ones are first folded into the entity's
 * latest change (per field, the newest clock wins): a device that resyncs from 0 still gets
 * every field.
 */
export async function compactLog(db: Database, userId: UserId, olderThan: Date): Promise<CompactResult> {
  return db.transaction(async (tx) => {
    const head = await tx.query<{ compacted_seq: number }>(
      'SELECT compacted_seq FROM sync_log_heads WHERE user_id = $1 FOR UPDATE',
      [userId],
    );
    if (head.rows.length === 0) return { removed: 0, compactedSeq: 0 };
    await foldTaskMeta(tx, userId, olderThan);
    const { rows } = await tx.query<{ device_id: string; max_client_seq: number; max_seq: number; removed: number }>(
      `WITH removed AS (
         DELETE FROM sync_operations
          WHERE user_id = $1 AND status = 'superseded' AND created_at < $2
         RETURNING device_id, client_seq, seq
       )
       SELECT device_id, max(client_seq) AS max_client_seq, max(seq) AS max_seq, count(*)::int AS removed
         FROM removed GROUP BY device_id`,
      [userId, olderThan],
    );
    const removed = rows.reduce((n, r) => n + r.removed, 0);
    if (removed === 0) return { removed: 0, compactedSeq: head.rows[0]!.compacted_seq };
    const clients = Object.fromEntries(rows.map((r) => [r.device_id, r.max_client_seq]));
    const updated = await tx.query<{ compacted_seq: number }>(
      `UPDATE sync_log_heads
          SET compacted_seq = greatest(compacted_seq, $2),
              compacted_at = now(),
              compacted_clients = compacted_clients || $3::jsonb,
              updated_at = now()
        WHERE user_id = $1
        RETURNING compacted_seq`,
      [userId, Math.max(...rows.map((r) => r.max_seq)), JSON.stringify(clients)],
    );
    return { removed, compactedSeq: updated.rows[0]!.compacted_seq };
  });
}

/** Folds the fields of task.meta changes about to be removed into their task's latest change. */
async function foldTaskMeta(tx: Queryable, userId: UserId, olderThan: Date): Promise<void> {
  const { rows } = await tx.query<{ seq: number; entity: string; status: string; body: ChangeBody }>(
    `SELECT seq, entity, status, body FROM sync_operations
      WHERE user_id = $1 AND entity IN (
              SELECT DISTINCT entity FROM sync_operations
               WHERE user_id = $1 AND status = 'superseded' AND created_at < $2 AND change_type = 'task.meta')
        AND change_type IN ('task.meta', 'task.delete')
      ORDER BY entity, seq`,
    [userId, olderThan],
  );
  const byEntity = new Map<string, typeof rows>();
  for (const row of rows) byEntity.set(row.entity, [...(byEntity.get(row.entity) ?? []), row]);
  for (const history of byEntity.values()) {
    const latest = history[history.length - 1]!;
    if (latest.status !== 'applied' || latest.body.type !== 'task.meta') continue;
    // Only changes after the last deletion describe the task as it is now.
    const lastDelete = history.map((r) => r.body.type).lastIndexOf('task.delete');
    const metas = history.slice(lastDelete + 1).map((r) => r.body as TaskMetaBody);
    const folded = foldMetaBodies(metas);
    await tx.query('UPDATE sync_operations SET body = $3::json WHERE user_id = $1 AND seq = $2', [
      userId,
      latest.seq,
      JSON.stringify(folded),
    ]);
  }
}


function toServerChange(row: LogRow): ServerChange {
  return {
    seq: row.seq,
    deviceId: row.device_id as DeviceId,
    clientSeq: row.client_seq,
    baseSeq: row.base_seq,
    body: row.body,
    entity: row.entity,
  };
}

function validateChanges(changes: readonly ClientChange[]): void {
  const seen = new Set<number>();
  for (const change of changes) {
    const { clientSeq, baseSeq, body } = change;
    if (!Number.isSafeInteger(clientSeq) || clientSeq < 1) {
      throw invalid('clientSeq must be an integer >= 1', clientSeq);
    }
    if (seen.has(clientSeq)) throw invalid('a push repeats a clientSeq', clientSeq);
    seen.add(clientSeq);
    if (baseSeq !== null && (!Number.isSafeInteger(baseSeq) || baseSeq < 0)) {
      throw invalid('baseSeq must be null or an integer >= 0', clientSeq);
    }
    if (typeof body !== 'object' || body === null || !CHANGE_TYPES.has(body.type)) {
      throw invalid('unknown change type', clientSeq);
    }
  }
}

function invalid(message: string, clientSeq: unknown): SyncError {
  return new SyncError(ChangeLogErrorCode.CHANGE_INVALID, message, { clientSeq });
}
