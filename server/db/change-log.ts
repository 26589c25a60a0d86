/**
 * The per-user change log (DESIGN.md "Ordering, idempotency, cursors"): the SQL behind push,
 * pull and compaction. Every function takes the authenticated user's id and touches nothing else.
 *
 * - `appendPushes` stores the pushes of several devices (of different users) in one statement
 *   (one round trip, its own transaction; `appendChanges` is one push): `sync_push_batch`
 *   (migration 0008) first locks the users' counter rows in `sync_log_heads` (creating them on
 *   first use) in user id order, so appends of one user run one at a time and their numbers
 *   commit in order (a reader never sees seq 11 before seq 10), and two calls sharing users
 *   never deadlock. Its later steps see every append committed before the locks were granted.
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
import { JsonText, type Database, type Queryable } from './database';
import { storedBody } from './put-body';

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

/** Stores `changes` pushed by `deviceId` in the user's log (one statement, one transaction). */
export async function appendChanges(
  db: Queryable,
  userId: UserId,
  deviceId: DeviceId,
  changes: readonly ClientChange[],
): Promise<AppendResult> {
  return (await appendPushes(db, [{ userId, deviceId, changes }]))[0]!;
}

/** One device's push to store with others in one call of `appendPushes`. */
export interface PushEntry {
  userId: UserId;
  deviceId: DeviceId;
  changes: readonly ClientChange[];
}

/**
 * Stores the pushes of several devices in one statement (one round trip, one transaction, one
 * WAL flush): what the relay's group commit (server/sync/push-committer.ts) sends. At most one
 * entry per user (throws otherwise: an entry would not see the appends of the one before it).
 * Every entry is validated first; a CHANGE_INVALID names the entry's clientSeq and nothing is
 * stored. Results are in entry order, each as `appendChanges` returns it.
 */
export async function appendPushes(db: Queryable, entries: readonly PushEntry[]): Promise<AppendResult[]> {
  const users = new Set<string>();
  for (const entry of entries) {
    checkChanges(entry.changes);
    if (users.has(entry.userId)) throw new Error('appendPushes: one entry per user');
    users.add(entry.userId);
  }
  const results: AppendResult[] = entries.map(() => ({ accepted: [], conflicts: [], stored: [] }));
  const live = entries.flatMap((entry, e) => (entry.changes.length > 0 ? [{ entry, e }] : []));
  if (live.length === 0) return results;
  const entitiesOf = new Map<number, string[]>();
  const records: unknown[] = [];
  // Each body is a parameter of its own (b: its place in p_bodies, from 1), parsed once by
  // PostgreSQL when bound; p_changes carries the rest.
  const bodies: JsonText[] = [];
  for (const { entry, e } of live) {
    const entities = entry.changes.map((c) => entityKeyOf(c.body));
    entitiesOf.set(e, entities);
    entry.changes.forEach((c, i) =>
      records.push({
        e,
        user_id: entry.userId,
        device_id: entry.deviceId,
        i,
        client_seq: c.clientSeq,
        base_seq: c.baseSeq,
        entity: entities[i],
        change_type: c.body.type,
        ...bindBody(c.body, bodies),
        mergeable: isMergeable(c.body),
      }),
    );
  }
  if (bodies.length > MAX_BODIES_PER_STATEMENT) throw new Error(`appendPushes: ${bodies.length} changes in one call (at most ${MAX_BODIES_PER_STATEMENT})`);
  // sync_push_batch (migrations 0008, 0011) locks the users' counter rows in id order, then
  // detects replays and conflicts, numbers, inserts and supersedes for every entry in one round
  // trip; a lone statement is its own transaction. It returns per entry the counter before the
  // append, then a row per change it did not store; the stored ones took the seqs after the
  // counter, in push order.
  const sortedUsers = [...new Set(live.map(({ entry }) => entry.userId))].sort();
  const bodyParams = bodies.map((_, i) => `$${i + 3}::json`).join(',');
  const { rows } = await db.query<AppendRow>(
    `SELECT * FROM sync_push_batch($1::uuid[], $2::json, ARRAY[${bodyParams}])`,
    [sortedUsers, new JsonText(JSON.stringify(records)), ...bodies],
  );
  const heads = new Map<number, number>();
  const notStored = new Map<number, Map<number, AppendRow>>();
  for (const row of rows) {
    if (row.o_outcome === 'head') heads.set(row.o_e, Number(row.o_seq));
    else {
      let byIndex = notStored.get(row.o_e);
      if (!byIndex) notStored.set(row.o_e, (byIndex = new Map()));
      byIndex.set(row.o_i!, row);
    }
  }
  for (const { entry, e } of live) {
    const head = heads.get(e);
    if (head === undefined) throw new Error(`sync_push_batch returned no head for entry ${e}`);
    results[e] = toAppendResult(entry, entitiesOf.get(e)!, head, notStored.get(e) ?? new Map());
  }
  return results;
}

/** One entry's outcome from its counter before the call and its rows of changes not stored. */
function toAppendResult(entry: PushEntry, entities: readonly string[], head: number, notStored: ReadonlyMap<number, AppendRow>): AppendResult {
  let nextSeq = head;
  const accepted: AcceptedChange[] = [];
  const conflicts: ChangeConflict[] = [];
  const stored: ServerChange[] = [];
  for (let i = 0; i < entry.changes.length; i++) {
    const change = entry.changes[i]!;
    const row = notStored.get(i);
    if (row === undefined) {
      const seq = ++nextSeq;
      accepted.push({ clientSeq: change.clientSeq, seq });
      stored.push({ seq, deviceId: entry.deviceId, clientSeq: change.clientSeq, baseSeq: change.baseSeq, body: change.body, entity: entities[i]! });
    } else if (row.o_outcome === 'conflict') {
      conflicts.push({
        clientSeq: change.clientSeq,
        entity: entities[i]!,
        current: toServerChange({
          seq: row.o_cur_seq!,
          device_id: row.o_cur_device_id!,
          client_seq: row.o_cur_client_seq!,
          base_seq: row.o_cur_base_seq,
          entity: row.o_cur_entity!,
          body: row.o_cur_body!,
        }),
      });
    } else {
      // A replay carries its original seq; a replay of a change that compaction removed is
      // acknowledged at the compaction point.
      accepted.push({ clientSeq: change.clientSeq, seq: row.o_seq! });
    }
  }
  return { accepted, conflicts, stored };
}

/** Bodies `appendPushes` binds in one statement: PostgreSQL takes at most 65,535 parameters. */
const MAX_BODIES_PER_STATEMENT = 65_000;

/** Adds `body`'s stored text to `bodies` (server/db/put-body.ts) and returns its place there (`b`, from 1) and its head, if any. */
function bindBody(body: ChangeBody, bodies: JsonText[]): { b: number; head?: unknown } {
  const { text, head } = storedBody(body);
  return { b: bodies.push(new JsonText(text)), head };
}

/** The rows of sync_push_batch (see migration 0008): a 'head' row per entry, then the changes not stored. */
interface AppendRow {
  o_e: number;
  o_i: number | null;
  o_outcome: 'head' | 'replay' | 'compacted' | 'conflict';
  o_seq: number | null;
  o_cur_seq: number | null;
  o_cur_device_id: string | null;
  o_cur_client_seq: number | null;
  o_cur_base_seq: number | null;
  o_cur_entity: string | null;
  o_cur_body: ChangeBody | null;
}

/**
 * One page of the user's log after `cursor`, in seq order. Throws CURSOR_COMPACTED when
 * changes after `cursor` may have been compacted away (pull from 0 instead).
 */
export async function pullChanges(db: Queryable, userId: UserId, cursor: number, limit: number): Promise<PullResult> {
  const page = await pullStoredChanges(db, userId, cursor, limit);
  const changes = page.rows.map((row) => toServerChange({ ...row, body: JSON.parse(row.body) as ChangeBody }));
  return { changes, cursor: page.cursor, hasMore: page.hasMore };
}

/** One change of a page as stored: `body` is its JSON text, not parsed. */
export interface StoredChangeRow {
  seq: number;
  device_id: string;
  client_seq: number;
  base_seq: number | null;
  entity: string;
  /** The body's JSON text as stored (the column is `json`, so it is valid JSON). */
  body: string;
}

export interface StoredPage {
  rows: StoredChangeRow[];
  /** Pull from here next: the last seq returned, or the given cursor when there was nothing. */
  cursor: number;
  hasMore: boolean;
}

/**
 * The same page as `pullChanges` with every body left as its stored JSON text: a relay
 * answering a pull writes the reply from it without parsing and re-serialising each body
 * (server/sync/pull-reply.ts).
 */
export async function pullStoredChanges(db: Queryable, userId: UserId, cursor: number, limit: number): Promise<StoredPage> {
  if (!Number.isSafeInteger(cursor) || cursor < 0) {
    throw new SyncError(ChangeLogErrorCode.PULL_INVALID, 'cursor must be an integer >= 0', { cursor });
  }
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_PULL_LIMIT) {
    throw new SyncError(ChangeLogErrorCode.PULL_INVALID, `limit must be an integer in 1..${MAX_PULL_LIMIT}`, { limit });
  }
  // One statement, one snapshot: the page and the compaction point agree. An empty page needs
  // no check: the newest change of the log is never compacted, so a compacted gap has rows above it.
  // body::text: the stored text, not parsed by the driver.
  const { rows } = await db.query<StoredChangeRow & { compacted_seq: number | null }>(
    `SELECT seq, device_id, client_seq, base_seq, entity, body::text AS body,
            (SELECT compacted_seq FROM sync_log_heads WHERE user_id = $1) AS compacted_seq
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
  const page = hasMore ? rows.slice(0, limit) : rows;
  return { rows: page, cursor: page.length > 0 ? page[page.length - 1]!.seq : cursor, hasMore };
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
 * entity and every stream.put a read-model message still names (`NAMED_BY_READ_MODEL`), and
 * moves the compaction point to the highest seq removed. Task metadata changes carry only the
 * fields that changed, so the removed ones are first folded into the entity's
 * latest change (per field, the newest clock wins): a device that resyncs from 0 still gets
 * every field.
 */
export async function compactLog(db: Database, userId: UserId, olderThan: Date): Promise<CompactResult> {
  return db.transaction(async (tx) => {
    // A projector batch in flight may be about to name a superseded put (NAMED_BY_READ_MODEL):
    // wait for it by taking the user's cursor row, so the delete below sees what it wrote, and
    // the projector skips the user until this commits. (The INSERT waits for a first batch that
    // is creating the row.) Cursor before counter: pushes never wait behind a projector batch.
    await tx.query('INSERT INTO read_model_cursors (user_id) VALUES ($1) ON CONFLICT (user_id) DO NOTHING', [userId]);
    await tx.query('SELECT 1 FROM read_model_cursors WHERE user_id = $1 FOR UPDATE', [userId]);
    const head = await tx.query<{ compacted_seq: number }>(
      'SELECT compacted_seq FROM sync_log_heads WHERE user_id = $1 FOR UPDATE',
      [userId],
    );
    if (head.rows.length === 0) return { removed: 0, compactedSeq: 0 };
    await foldTaskMeta(tx, userId, olderThan);
    const { rows } = await tx.query<{ device_id: string; max_client_seq: number; max_seq: number; removed: number }>(
      `WITH removed AS (
         DELETE FROM sync_operations s
          WHERE s.user_id = $1 AND s.status = 'superseded' AND s.created_at < $2
            AND NOT (s.change_type = 'stream.put' AND EXISTS (${NAMED_BY_READ_MODEL}))
         RETURNING s.device_id, s.client_seq, s.seq
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

/**
 * True for a stream.put row `s` that a read-model message row still names (messages.seq): the
 * messages route reads the entry from that row, so compaction keeps it until the projector has
 * applied the change that superseded it (then the message row names the newer change). It reads
 * the put's head (no entry: small, and free of an entry's \u0000, which PostgreSQL's json
 * functions refuse), the body only for rows stored before migration 0011.
 */
const NAMED_BY_READ_MODEL = `SELECT 1 FROM conversations c JOIN messages m ON m.conversation_id = c.id
   WHERE c.user_id = s.user_id AND c.source = coalesce(s.head, s.body) ->> 'source' AND c.task_id = coalesce(s.head, s.body) ->> 'taskId'
     AND m.stream = coalesce(s.head, s.body) ->> 'stream' AND m.entry_key = coalesce(s.head, s.body) ->> 'key' AND m.seq = s.seq`;

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

/** Throws CHANGE_INVALID for a malformed push (what `appendPushes` refuses before storing anything). */
export function checkChanges(changes: readonly ClientChange[]): void {
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
