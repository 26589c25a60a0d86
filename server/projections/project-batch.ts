/**
 * One projection step for one user, in one transaction: lock the user's cursor row in
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
import type { Database, Queryable } from '../db/database';
import type { ChangeBody } from '../../core/model/changes';
import { planProjection, taskKey, taskOf, visibleMeta, type LogRow, type ProjectionPlan, type TaskState } from './plan';

export const DEFAULT_PROJECTION_BATCH = 500;

export type BatchOutcome =
  /** Rows were projected (or the user was already caught up: `rows` 0). */
  | { status: 'projected'; rows: number; skipped: number; cursor: number; more: boolean; counts: ProjectionPlan['counts'] }
  /** Another projector holds the user's cursor row; nothing was done. */
  | { status: 'locked' }
  /** Compaction passed the cursor: the user's read model was emptied and the cursor reset to 0. */
  | { status: 'rebuilt'; more: true };

export interface BatchOptions {
  /** Most log rows per transaction. Default DEFAULT_PROJECTION_BATCH. */
  limit?: number;
  /** PostgreSQL `lock_timeout` inside the step, ms (a projector gives way to TRUNCATE / DDL). Default 2000. */
  lockTimeoutMs?: number;
}

interface PageRow {
  seq: number | string;
  device_id: string;
  body: ChangeBody | string;
  compacted_seq: number | string | null;
}

/** Projects the next page of `userId`'s log. */
export function projectBatch(db: Database, userId: string, options: BatchOptions = {}): Promise<BatchOutcome> {
  const limit = options.limit ?? DEFAULT_PROJECTION_BATCH;
  return db.transaction(async (tx) => {
    if (db.kind === 'postgres') await tx.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.floor(options.lockTimeoutMs ?? 2000))}`);
    await tx.query(
      `INSERT INTO read_model_cursors (user_id) SELECT id FROM users WHERE id = $1 ON CONFLICT (user_id) DO NOTHING`,
      [userId],
    );
    const locked = await tx.query<{ seq: number | string; base_compacted_seq: number | string }>(
      'SELECT seq, base_compacted_seq FROM read_model_cursors WHERE user_id = $1 FOR UPDATE SKIP LOCKED',
      [userId],
    );
    const cursorRow = locked.rows[0];
    if (!cursorRow) return { status: 'locked' } as const;
    const cursor = Number(cursorRow.seq);
    const base = Number(cursorRow.base_compacted_seq);

    const page = await tx.query<PageRow>(
      `SELECT seq, device_id, body, (SELECT compacted_seq FROM sync_log_heads WHERE user_id = $1) AS compacted_seq
         FROM sync_operations WHERE user_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
      [userId, cursor, limit + 1],
    );
    const compactedSeq = Number(page.rows[0]?.compacted_seq ?? 0);
    if (cursor > 0 && compactedSeq > cursor && compactedSeq > base) {
      await resetReadModel(tx, userId, compactedSeq);
      return { status: 'rebuilt', more: true } as const;
    }
    const more = page.rows.length > limit;
    const rows: LogRow[] = (more ? page.rows.slice(0, limit) : page.rows).map((r) => ({
      seq: Number(r.seq),
      deviceId: r.device_id,
      body: (typeof r.body === 'string' ? JSON.parse(r.body) : r.body) as ChangeBody,
    }));
    if (rows.length === 0) return { status: 'projected', rows: 0, skipped: 0, cursor, more: false, counts: {} } as const;

    const plan = planProjection(rows, await loadTasks(tx, userId, rows));
    await applyPlan(tx, userId, plan);
    const last = rows[rows.length - 1]!.seq;
    await tx.query(
      `UPDATE read_model_cursors
          SET seq = $2, base_compacted_seq = CASE WHEN seq = 0 THEN $3 ELSE base_compacted_seq END, updated_at = now()
        WHERE user_id = $1`,
      [userId, last, compactedSeq],
    );
    return { status: 'projected', rows: rows.length, skipped: plan.skipped, cursor: last, more, counts: plan.counts } as const;
  });
}

/** Empties the user's read model and moves the cursor back to 0 (inside the caller's transaction). */
async function resetReadModel(tx: Queryable, userId: string, compactedSeq: number): Promise<void> {
  await tx.query('DELETE FROM conversations WHERE user_id = $1', [userId]); // messages, message_changes cascade
  await tx.query('DELETE FROM workspaces WHERE user_id = $1', [userId]); // file_sync_state, file_changes cascade
  await tx.query(
    `UPDATE read_model_cursors SET seq = 0, base_compacted_seq = $2, rebuilds = rebuilds + 1, updated_at = now() WHERE user_id = $1`,
    [userId, compactedSeq],
  );
}

/** The conversation rows of the tasks `rows` touch. */
async function loadTasks(tx: Queryable, userId: string, rows: readonly LogRow[]): Promise<Map<string, TaskState>> {
  const ids = new Set<string>();
  for (const row of rows) {
    const task = taskOf(row.body);
    if (task && typeof task.taskId === 'string') ids.add(task.taskId);
  }
  const existing = new Map<string, TaskState>();
  if (ids.size === 0) return existing;
  const { rows: found } = await tx.query<{
    source: string; task_id: string; metadata: Record<string, unknown>; field_clocks: Record<string, string>; deleted: boolean; head_seq: number | string;
  }>(
    `SELECT source, task_id, metadata, field_clocks, deleted_at IS NOT NULL AS deleted, head_seq
       FROM conversations WHERE user_id = $1 AND task_id IN (SELECT json_array_elements_text($2::json))`,
    [userId, JSON.stringify([...ids])],
  );
  for (const r of found) {
    existing.set(taskKey(r.source, r.task_id), {
      source: r.source,
      taskId: r.task_id,
      meta: { fields: r.metadata ?? {}, clocks: r.field_clocks ?? {} },
      deleted: r.deleted,
      headSeq: Number(r.head_seq),
    });
  }
  return existing;
}

/** Writes `plan` with one statement per table it touches. */
async function applyPlan(tx: Queryable, userId: string, plan: ProjectionPlan): Promise<void> {
  const conversationIds = new Map<string, string>();
  if (plan.tasks.size > 0) {
    // metadata holds the fields present (removed ones only keep their clock in field_clocks):
    // mergeTaskMeta treats a field absent with a clock as removed at that clock.
    const records = [...plan.tasks.values()].map((t) => ({
      source: t.source,
      task_id: t.taskId,
      metadata: visibleMeta(t),
      field_clocks: t.meta.clocks,
      head_seq: t.headSeq,
      deleted: t.deleted,
    }));
    const { rows } = await tx.query<{ id: string; source: string; task_id: string }>(
      `INSERT INTO conversations (user_id, source, task_id, metadata, field_clocks, head_seq, deleted_at)
       SELECT $1, x.source, x.task_id, x.metadata, x.field_clocks, x.head_seq, CASE WHEN x.deleted THEN now() END
         FROM json_to_recordset($2::json)
           AS x(source text, task_id text, metadata jsonb, field_clocks jsonb, head_seq bigint, deleted boolean)
       ON CONFLICT (user_id, source, task_id) DO UPDATE
          SET metadata = excluded.metadata, field_clocks = excluded.field_clocks, head_seq = excluded.head_seq,
              deleted_at = coalesce(conversations.deleted_at, excluded.deleted_at), updated_at = now()
       RETURNING id, source, task_id`,
      [userId, JSON.stringify(records)],
    );
    for (const r of rows) conversationIds.set(taskKey(r.source, r.task_id), r.id);
  }
  const idOf = (task: string): string => conversationIds.get(task)!;

  if (plan.truncations.length > 0) {
    await tx.query(
      `DELETE FROM messages m
        USING json_to_recordset($1::json) AS t(conversation_id uuid, stream text, whole boolean, major bigint, minor integer)
        WHERE m.conversation_id = t.conversation_id AND m.stream = t.stream
          AND (t.whole OR (m.key_major, m.key_minor) > (t.major, t.minor))`,
      [JSON.stringify(plan.truncations.map((t) => ({
        conversation_id: idOf(t.task), stream: t.stream, whole: t.after === null, major: t.after?.major ?? 0, minor: t.after?.minor ?? 0,
      })))],
    );
  }
  if (plan.puts.length > 0) {
    // content: the entry's JSON text, spliced into the parameter as JSON so the column keeps it.
    const records = `[${plan.puts.map((p) =>
      `{"conversation_id":${JSON.stringify(idOf(p.task))},"stream":${JSON.stringify(p.stream)},"entry_key":${JSON.stringify(p.key)},` +
      `"key_major":${p.order.major},"key_minor":${p.order.minor},"content_hash":${JSON.stringify(p.hash)},"content":${p.content},` +
      `"seq":${p.seq},"device_id":${JSON.stringify(p.deviceId)}}`).join(',')}]`;
    await tx.query(
      `INSERT INTO messages (conversation_id, stream, entry_key, key_major, key_minor, content_hash, content, seq, device_id)
       SELECT x.conversation_id, x.stream, x.entry_key, x.key_major, x.key_minor, x.content_hash, coalesce(x.content, 'null'::json), x.seq, x.device_id
         FROM json_to_recordset($1::json)
           AS x(conversation_id uuid, stream text, entry_key text, key_major bigint, key_minor integer, content_hash text, content json, seq bigint, device_id uuid)
       ON CONFLICT (conversation_id, stream, entry_key) DO UPDATE
          SET key_major = excluded.key_major, key_minor = excluded.key_minor, content_hash = excluded.content_hash,
              content = excluded.content, seq = excluded.seq, device_id = excluded.device_id, updated_at = now()`,
      [records],
    );
  }
  if (plan.messageChanges.length > 0) {
    await tx.query(
      `INSERT INTO message_changes (conversation_id, stream, entry_key, change_type, content_hash, seq, device_id)
       SELECT x.conversation_id, x.stream, x.entry_key, x.change_type, x.content_hash, x.seq, x.device_id
         FROM json_to_recordset($1::json)
           AS x(conversation_id uuid, stream text, entry_key text, change_type text, content_hash text, seq bigint, device_id uuid)`,
      [JSON.stringify(plan.messageChanges.map((c) => ({
        conversation_id: idOf(c.task), stream: c.stream, entry_key: c.key, change_type: c.type, content_hash: c.hash, seq: c.seq, device_id: c.deviceId,
      })))],
    );
  }
  if (plan.workspaces.size > 0) {
    await tx.query(
      `INSERT INTO workspaces (user_id, id) SELECT $1, w FROM json_array_elements_text($2::json) AS w
       ON CONFLICT (user_id, id) DO UPDATE SET updated_at = now()`,
      [userId, JSON.stringify([...plan.workspaces])],
    );
  }
  if (plan.files.length > 0) {
    await tx.query(
      `INSERT INTO file_sync_state (user_id, workspace_id, path, content_hash, size, mode, mtime_ms, is_binary, deleted, sync_status, seq, device_id)
       SELECT $1, x.workspace_id, x.path, x.content_hash, x.size, x.mode, x.mtime_ms, x.is_binary, x.deleted, 'synced', x.seq, x.device_id
         FROM json_to_recordset($2::json)
           AS x(workspace_id text, path text, content_hash text, size bigint, mode integer, mtime_ms bigint, is_binary boolean, deleted boolean, seq bigint, device_id uuid)
       ON CONFLICT (user_id, workspace_id, path) DO UPDATE
          SET content_hash = excluded.content_hash, size = excluded.size, mode = excluded.mode, mtime_ms = excluded.mtime_ms,
              is_binary = excluded.is_binary, deleted = excluded.deleted, sync_status = 'synced', seq = excluded.seq,
              device_id = excluded.device_id, updated_at = now()`,
      [userId, JSON.stringify(plan.files.map((f) => ({
        workspace_id: f.workspaceId, path: f.path, content_hash: f.hash, size: f.size, mode: f.mode, mtime_ms: f.mtime,
        is_binary: f.binary, deleted: f.deleted, seq: f.seq, device_id: f.deviceId,
      })))],
    );
    await tx.query(
      `INSERT INTO file_changes (user_id, workspace_id, path, change_type, content_hash, size, seq, device_id)
       SELECT $1, x.workspace_id, x.path, x.change_type, x.content_hash, x.size, x.seq, x.device_id
         FROM json_to_recordset($2::json)
           AS x(workspace_id text, path text, change_type text, content_hash text, size bigint, seq bigint, device_id uuid)`,
      [userId, JSON.stringify(plan.fileChanges.map((c) => ({
        workspace_id: c.workspaceId, path: c.path, change_type: c.type, content_hash: c.hash, size: c.size, seq: c.seq, device_id: c.deviceId,
      })))],
    );
  }
}
