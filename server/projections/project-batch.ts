/**
 * One projection step for one or several users, in one transaction (`projectUsers`; `projectBatch`
 * is the one-user form). For each user: lock the user's cursor row in
 * `read_model_cursors` (FOR UPDATE SKIP LOCKED: when another relay process holds it, this step
 * does nothing and says so), read at most `limit` log rows after the cursor, write what they do
 * to the read model (plan.ts) and move the cursor to the last of them. The rows and the cursor
 * commit together, so every change is projected exactly once whatever crashes; the unique
 * indexes on message_changes / file_changes (migration 0006) would refuse a second copy.
 *
 * Compaction (server/db/change-log.ts `compactLog`) removes superseded rows and moves the log's
 * compaction point. When that point passed the cursor since the projection started from 0, rows
 * the projector had not reached may be gone: the step then empties the user's read model and
 * starts again from 0 (a rebuild). The page and the compaction point are read in one statement
 * (one snapshot), so a compaction that commits meanwhile is seen either wholly or not at all.
 */
import { JsonText, prepared, type Database, type Queryable } from '../db/database';
import type { ChangeBody } from '../../core/model/changes';
import { planProjection, taskKey, taskOf, visibleMeta, type LogRow, type ProjectionPlan, type TaskState } from './plan';

export const DEFAULT_PROJECTION_BATCH = 500;
/** Most log rows one multi-user transaction projects over all its users. */
export const DEFAULT_PROJECTION_TOTAL = 2000;

export type BatchOutcome =
  /** Rows were projected (or the user was already caught up: `rows` 0). */
  | { status: 'projected'; rows: number; skipped: number; cursor: number; more: boolean; counts: ProjectionPlan['counts'] }
  /** Another projector holds the user's cursor row; nothing was done. */
  | { status: 'locked' }
  /** Compaction passed the cursor: the user's read model was emptied and the cursor reset to 0. */
  | { status: 'rebuilt'; more: true };

export interface BatchOptions {
  /** Most log rows per user per transaction. Default DEFAULT_PROJECTION_BATCH. */
  limit?: number;
  /** PostgreSQL `lock_timeout` inside the step, ms (a projector gives way to TRUNCATE / DDL). Default 2000. */
  lockTimeoutMs?: number;
  /** Most log rows per transaction over all users (`projectUsers`): each user asked for gets an
   *  equal share (at least 1), at most `limit`. Default DEFAULT_PROJECTION_TOTAL (never below `limit`). */
  totalLimit?: number;
}

interface PageRow {
  seq: number | string;
  device_id: string;
  body: ChangeBody | string;
  compacted_seq: number | string | null;
}

/**
 * Set at the start of every projection transaction, so a page read walks the log's primary key
 * in seq order and stops after the page. Without it, a log whose table has no statistics (a new
 * relay, and PGlite always: it runs no autovacuum) is estimated at a few hundred rows after the
 * cursor, and the planner fetches every row after the cursor with a bitmap scan and sorts them
 * to keep a page: each batch then costs as much as the whole backlog behind it (a migration
 * projected behind its pushes). Measured on a replayed 1 GB migration's 68,075 changes
 * projected after they were pushed: PostgreSQL CPU 4.0 s before, 1.6 s with it. The other
 * statements of the step probe unique indexes and are planned the same either way.
 */
export const PAGE_PLAN_SETTING = 'SET LOCAL enable_bitmapscan = off';

/** Projects the next page of `userId`'s log (`projectUsers` for one user). */
export async function projectBatch(db: Database, userId: string, options: BatchOptions = {}): Promise<BatchOutcome> {
  return (await projectUsers(db, [userId], options)).get(userId)!;
}

/**
 * Projects the next page of each of `userIds`' logs in ONE transaction, so its round trips are
 * paid once per batch rather than once per user: one statement locks the free cursor rows
 * (FOR UPDATE SKIP LOCKED; the others come back 'locked') and reads every locked user's page (each at most its share of `totalLimit`, and at most `limit`),
 * one reads the conversations of the tasks those pages touch, the plans (plan.ts, per user) are
 * written with one statement per table for all users together, and one UPDATE moves every cursor.
 * A user whose compaction point passed its cursor is rebuilt (its read model emptied, its cursor
 * reset to 0) in the same transaction while the others are projected. Users without a cursor
 * row yet get one (one INSERT, then their pages are read: two more round trips, first time only).
 * Returns one outcome per user id.
 */
export async function projectUsers(db: Database, userIds: readonly string[], options: BatchOptions = {}): Promise<Map<string, BatchOutcome>> {
  // PostgreSQL returns uuids in lower case: work with those, answer with the ids as given.
  const ids = [...new Set(userIds.map((id) => id.toLowerCase()))];
  const outcomes = await projectLocked(db, ids, options);
  return new Map(userIds.map((id) => [id, outcomes.get(id.toLowerCase())!]));
}

async function projectLocked(db: Database, ids: readonly string[], options: BatchOptions): Promise<Map<string, BatchOutcome>> {
  const limit = Math.max(1, options.limit ?? DEFAULT_PROJECTION_BATCH);
  const totalLimit = Math.max(limit, options.totalLimit ?? DEFAULT_PROJECTION_TOTAL);
  const outcomes = new Map<string, BatchOutcome>(ids.map((id) => [id, { status: 'locked' } as const]));
  if (ids.length === 0) return outcomes;
  return db.transaction(async (tx) => {
    // One round trip on PostgreSQL (a simple query may hold several statements; PGlite takes one).
    if (db.kind === 'postgres') await tx.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.floor(options.lockTimeoutMs ?? 2000))}; ${PAGE_PLAN_SETTING}`);
    else await tx.query(PAGE_PLAN_SETTING);
    // Each user's share of the batch, so a long backlog does not crowd the others out.
    const share = Math.max(1, Math.min(limit, Math.floor(totalLimit / ids.length)));
    const cursors = new Map<string, { cursor: number; base: number }>();
    const pages = new Map<string, PageRow[]>();
    await lockAndRead(tx, ids, share, cursors, pages);
    // Users without a cursor row yet (their first projection): create the rows, which this
    // transaction then holds, and read those users' pages. A user whose row exists but was not
    // locked is held by another projector.
    const missing = ids.filter((id) => !cursors.has(id));
    if (missing.length > 0) {
      const created = await tx.query<{ user_id: string }>(
        `INSERT INTO read_model_cursors (user_id)
         SELECT id FROM users WHERE id = ANY ($1::uuid[])
         ON CONFLICT (user_id) DO NOTHING RETURNING user_id`,
        [missing],
      );
      if (created.rows.length > 0) await lockAndRead(tx, created.rows.map((r) => r.user_id), share, cursors, pages);
    }
    if (cursors.size === 0) return outcomes;

    const rebuilds: Array<{ userId: string; compactedSeq: number }> = [];
    const work: Array<{ userId: string; rows: LogRow[]; more: boolean; compactedSeq: number }> = [];
    for (const [userId, { cursor, base }] of cursors) {
      const userPage = pages.get(userId) ?? [];
      const compactedSeq = Number(userPage[0]?.compacted_seq ?? 0);
      if (cursor > 0 && compactedSeq > cursor && compactedSeq > base) {
        rebuilds.push({ userId, compactedSeq });
        outcomes.set(userId, { status: 'rebuilt', more: true });
        continue;
      }
      const more = userPage.length > share;
      const rows: LogRow[] = (more ? userPage.slice(0, share) : userPage).map((r) => ({
        seq: Number(r.seq),
        deviceId: r.device_id,
        body: (typeof r.body === 'string' ? JSON.parse(r.body) : r.body) as ChangeBody,
      }));
      if (rows.length === 0) {
        outcomes.set(userId, { status: 'projected', rows: 0, skipped: 0, cursor, more: false, counts: {} });
        continue;
      }
      work.push({ userId, rows, more, compactedSeq });
    }

    if (rebuilds.length > 0) await resetReadModels(tx, rebuilds.map((r) => r.userId));
    const plans: UserPlan[] = [];
    if (work.length > 0) {
      const tasks = await loadTasks(tx, work);
      for (const w of work) {
        const plan = planProjection(w.rows, tasks.get(w.userId) ?? new Map());
        plans.push({ userId: w.userId, plan });
        const last = w.rows[w.rows.length - 1]!.seq;
        outcomes.set(w.userId, { status: 'projected', rows: w.rows.length, skipped: plan.skipped, cursor: last, more: w.more, counts: plan.counts });
      }
      await applyPlans(tx, plans);
    }
    const moves = [
      ...rebuilds.map((r) => ({ user_id: r.userId, seq: 0, compacted: r.compactedSeq, rebuild: true })),
      ...work.map((w) => ({ user_id: w.userId, seq: w.rows[w.rows.length - 1]!.seq, compacted: w.compactedSeq, rebuild: false })),
    ];
    if (moves.length > 0) {
      await tx.query(
        prepared(`UPDATE read_model_cursors c
            SET seq = x.seq,
                base_compacted_seq = CASE WHEN x.rebuild OR c.seq = 0 THEN x.compacted ELSE c.base_compacted_seq END,
                rebuilds = c.rebuilds + CASE WHEN x.rebuild THEN 1 ELSE 0 END,
                updated_at = now()
           FROM json_to_recordset($1::json) AS x(user_id uuid, seq bigint, compacted bigint, rebuild boolean)
          WHERE c.user_id = x.user_id`),
        [new JsonText(JSON.stringify(moves))],
      );
    }
    return outcomes;
  });
}

/**
 * Locks the free cursor rows of users $1 (FOR UPDATE SKIP LOCKED) and reads up to $2 log rows
 * after each cursor with the user's compaction point, in one statement (one snapshot). Run after
 * PAGE_PLAN_SETTING, it reads a page's rows and no more.
 */
export const PAGE_SQL = prepared(`WITH locked AS (
     SELECT user_id, seq, base_compacted_seq FROM read_model_cursors
      WHERE user_id = ANY ($1::uuid[])
        FOR UPDATE SKIP LOCKED
   )
   SELECT l.user_id, l.seq AS cursor, l.base_compacted_seq AS base, o.seq, o.device_id, o.body,
          (SELECT compacted_seq FROM sync_log_heads h WHERE h.user_id = l.user_id) AS compacted_seq
     FROM locked l
     LEFT JOIN LATERAL (
       -- head: a stream.put's body without its entry (migration 0011; NULL before it).
       SELECT s.seq, s.device_id, coalesce(s.head, s.body) AS body
         FROM sync_operations s WHERE s.user_id = l.user_id AND s.seq > l.seq ORDER BY s.seq LIMIT $2
     ) o ON true
    ORDER BY l.user_id, o.seq`);

/**
 * Locks the cursor rows of `ids` that no other transaction holds (FOR UPDATE SKIP LOCKED) and
 * reads, in the same statement, up to `share + 1` log rows after each cursor with the user's
 * compaction point (one snapshot for both). Fills `cursors` and `pages` for the locked users.
 */
async function lockAndRead(
  tx: Queryable,
  ids: readonly string[],
  share: number,
  cursors: Map<string, { cursor: number; base: number }>,
  pages: Map<string, PageRow[]>,
): Promise<void> {
  const { rows } = await tx.query<Omit<PageRow, 'seq'> & { user_id: string; cursor: number | string; base: number | string; seq: number | string | null }>(
    PAGE_SQL,
    [ids, share + 1],
  );
  for (const r of rows) {
    if (!cursors.has(r.user_id)) {
      cursors.set(r.user_id, { cursor: Number(r.cursor), base: Number(r.base) });
      pages.set(r.user_id, []);
    }
    if (r.seq !== null) pages.get(r.user_id)!.push({ seq: r.seq, device_id: r.device_id, body: r.body, compacted_seq: r.compacted_seq });
  }
}

interface UserPlan {
  userId: string;
  plan: ProjectionPlan;
}

/** Empties the users' read models (inside the caller's transaction; the caller resets their cursors). */
async function resetReadModels(tx: Queryable, userIds: readonly string[]): Promise<void> {
  // messages, message_changes cascade from conversations; file_sync_state, file_changes from workspaces.
  await tx.query('DELETE FROM conversations WHERE user_id = ANY ($1::uuid[])', [userIds]);
  await tx.query('DELETE FROM workspaces WHERE user_id = ANY ($1::uuid[])', [userIds]);
}

/** The conversation rows of the tasks the users' pages touch, per user. */
async function loadTasks(
  tx: Queryable,
  work: ReadonlyArray<{ userId: string; rows: readonly LogRow[] }>,
): Promise<Map<string, Map<string, TaskState>>> {
  const wanted: Array<{ user_id: string; task_id: string }> = [];
  for (const { userId, rows } of work) {
    const ids = new Set<string>();
    for (const row of rows) {
      const task = taskOf(row.body);
      if (task && typeof task.taskId === 'string') ids.add(task.taskId);
    }
    for (const taskId of ids) wanted.push({ user_id: userId, task_id: taskId });
  }
  const existing = new Map<string, Map<string, TaskState>>();
  if (wanted.length === 0) return existing;
  const { rows: found } = await tx.query<{
    user_id: string; source: string; task_id: string; metadata: Record<string, unknown>; field_clocks: Record<string, string>; deleted: boolean; head_seq: number | string;
  }>(
    // Two lists rather than a join on the pairs, so the (user_id, source, task_id) index is used;
    // a task of one user wanted for another only is dropped below.
    prepared(`SELECT user_id, source, task_id, metadata, field_clocks, deleted_at IS NOT NULL AS deleted, head_seq
       FROM conversations
      WHERE user_id = ANY ($1::uuid[]) AND task_id = ANY ($2::text[])`),
    [[...new Set(wanted.map((w) => w.user_id))], [...new Set(wanted.map((w) => w.task_id))]],
  );
  const pairs = new Set(wanted.map((w) => `${w.user_id}\u0000${w.task_id}`));
  for (const r of found) {
    if (!pairs.has(`${r.user_id}\u0000${r.task_id}`)) continue;
    let tasks = existing.get(r.user_id);
    if (!tasks) existing.set(r.user_id, (tasks = new Map()));
    tasks.set(taskKey(r.source, r.task_id), {
      source: r.source,
      taskId: r.task_id,
      meta: { fields: r.metadata ?? {}, clocks: r.field_clocks ?? {} },
      deleted: r.deleted,
      headSeq: Number(r.head_seq),
    });
  }
  return existing;
}

/** Writes the users' plans with one statement per table they touch, all users together. */
async function applyPlans(tx: Queryable, plans: readonly UserPlan[]): Promise<void> {
  const conversationIds = new Map<string, string>();
  const convKey = (userId: string, task: string): string => `${userId}\u0000${task}`;
  const tasks = plans.flatMap(({ userId, plan }) => [...plan.tasks.values()].map((t) => ({ userId, t })));
  if (tasks.length > 0) {
    // metadata holds the fields present (removed ones only keep their clock in field_clocks):
    // mergeTaskMeta treats a field absent with a clock as removed at that clock.
    const records = tasks.map(({ userId, t }) => ({
      user_id: userId,
      source: t.source,
      task_id: t.taskId,
      metadata: visibleMeta(t),
      field_clocks: t.meta.clocks,
      head_seq: t.headSeq,
      deleted: t.deleted,
    }));
    const { rows } = await tx.query<{ id: string; user_id: string; source: string; task_id: string }>(
      prepared(`INSERT INTO conversations (user_id, source, task_id, metadata, field_clocks, head_seq, deleted_at)
       SELECT x.user_id, x.source, x.task_id, x.metadata, x.field_clocks, x.head_seq, CASE WHEN x.deleted THEN now() END
         FROM json_to_recordset($1::json)
           AS x(user_id uuid, source text, task_id text, metadata jsonb, field_clocks jsonb, head_seq bigint, deleted boolean)
       ON CONFLICT (user_id, source, task_id) DO UPDATE
          SET metadata = excluded.metadata, field_clocks = excluded.field_clocks, head_seq = excluded.head_seq,
              deleted_at = coalesce(conversations.deleted_at, excluded.deleted_at), updated_at = now()
       RETURNING id, user_id, source, task_id`),
      [new JsonText(JSON.stringify(records))],
    );
    for (const r of rows) conversationIds.set(convKey(r.user_id, taskKey(r.source, r.task_id)), r.id);
  }

  const truncations: string[] = [];
  const puts: string[] = [];
  const messageChanges: string[] = [];
  const workspaces: string[] = [];
  const files: string[] = [];
  const fileChanges: string[] = [];
  for (const { userId, plan } of plans) {
    const idOf = (task: string): string => conversationIds.get(convKey(userId, task))!;
    for (const t of plan.truncations) {
      truncations.push(JSON.stringify({
        conversation_id: idOf(t.task), stream: t.stream, whole: t.after === null, major: t.after?.major ?? 0, minor: t.after?.minor ?? 0,
      }));
    }
    for (const p of plan.puts) {
      puts.push(JSON.stringify({
        conversation_id: idOf(p.task), stream: p.stream, entry_key: p.key, key_major: p.order.major, key_minor: p.order.minor,
        content_hash: p.hash, seq: p.seq, device_id: p.deviceId,
      }));
    }
    for (const c of plan.messageChanges) {
      messageChanges.push(JSON.stringify({
        conversation_id: idOf(c.task), stream: c.stream, entry_key: c.key, change_type: c.type, content_hash: c.hash, seq: c.seq, device_id: c.deviceId,
      }));
    }
    for (const w of plan.workspaces) workspaces.push(JSON.stringify({ user_id: userId, id: w }));
    for (const f of plan.files) {
      files.push(JSON.stringify({
        user_id: userId, workspace_id: f.workspaceId, path: f.path, content_hash: f.hash, size: f.size, mode: f.mode, mtime_ms: f.mtime,
        is_binary: f.binary, deleted: f.deleted, seq: f.seq, device_id: f.deviceId,
      }));
    }
    for (const c of plan.fileChanges) {
      fileChanges.push(JSON.stringify({
        user_id: userId, workspace_id: c.workspaceId, path: c.path, change_type: c.type, content_hash: c.hash, size: c.size, seq: c.seq, device_id: c.deviceId,
      }));
    }
  }

  if (truncations.length > 0) {
    await tx.query(
      prepared(`DELETE FROM messages m
        USING json_to_recordset($1::json) AS t(conversation_id uuid, stream text, whole boolean, major bigint, minor integer)
        WHERE m.conversation_id = t.conversation_id AND m.stream = t.stream
          AND (t.whole OR (m.key_major, m.key_minor) > (t.major, t.minor))`),
      [new JsonText(`[${truncations.join(',')}]`)],
    );
  }
  if (puts.length > 0) {
    await tx.query(
      prepared(`INSERT INTO messages (conversation_id, stream, entry_key, key_major, key_minor, content_hash, seq, device_id)
       SELECT x.conversation_id, x.stream, x.entry_key, x.key_major, x.key_minor, x.content_hash, x.seq, x.device_id
         FROM json_to_recordset($1::json)
           AS x(conversation_id uuid, stream text, entry_key text, key_major bigint, key_minor integer, content_hash text, seq bigint, device_id uuid)
       ON CONFLICT (conversation_id, stream, entry_key) DO UPDATE
          SET key_major = excluded.key_major, key_minor = excluded.key_minor, content_hash = excluded.content_hash,
              seq = excluded.seq, device_id = excluded.device_id, updated_at = now()`),
      [new JsonText(`[${puts.join(',')}]`)],
    );
  }
  if (messageChanges.length > 0) {
    await tx.query(
      prepared(`INSERT INTO message_changes (conversation_id, stream, entry_key, change_type, content_hash, seq, device_id)
       SELECT x.conversation_id, x.stream, x.entry_key, x.change_type, x.content_hash, x.seq, x.device_id
         FROM json_to_recordset($1::json)
           AS x(conversation_id uuid, stream text, entry_key text, change_type text, content_hash text, seq bigint, device_id uuid)`),
      [new JsonText(`[${messageChanges.join(',')}]`)],
    );
  }
  if (workspaces.length > 0) {
    await tx.query(
      prepared(`INSERT INTO workspaces (user_id, id) SELECT x.user_id, x.id FROM json_to_recordset($1::json) AS x(user_id uuid, id text)
       ON CONFLICT (user_id, id) DO UPDATE SET updated_at = now()`),
      [new JsonText(`[${workspaces.join(',')}]`)],
    );
  }
  if (files.length > 0) {
    await tx.query(
      prepared(`INSERT INTO file_sync_state (user_id, workspace_id, path, content_hash, size, mode, mtime_ms, is_binary, deleted, sync_status, seq, device_id)
       SELECT x.user_id, x.workspace_id, x.path, x.content_hash, x.size, x.mode, x.mtime_ms, x.is_binary, x.deleted, 'synced', x.seq, x.device_id
         FROM json_to_recordset($1::json)
           AS x(user_id uuid, workspace_id text, path text, content_hash text, size bigint, mode integer, mtime_ms bigint, is_binary boolean, deleted boolean, seq bigint, device_id uuid)
       ON CONFLICT (user_id, workspace_id, path) DO UPDATE
          SET content_hash = excluded.content_hash, size = excluded.size, mode = excluded.mode, mtime_ms = excluded.mtime_ms,
              is_binary = excluded.is_binary, deleted = excluded.deleted, sync_status = 'synced', seq = excluded.seq,
              device_id = excluded.device_id, updated_at = now()`),
      [new JsonText(`[${files.join(',')}]`)],
    );
  }
  if (fileChanges.length > 0) {
    await tx.query(
      prepared(`INSERT INTO file_changes (user_id, workspace_id, path, change_type, content_hash, size, seq, device_id)
       SELECT x.user_id, x.workspace_id, x.path, x.change_type, x.content_hash, x.size, x.seq, x.device_id
         FROM json_to_recordset($1::json)
           AS x(user_id uuid, workspace_id text, path text, change_type text, content_hash text, size bigint, seq bigint, device_id uuid)`),
      [new JsonText(`[${fileChanges.join(',')}]`)],
    );
  }
}
