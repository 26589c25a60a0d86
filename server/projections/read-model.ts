/**
 * Reads of the read model the projector keeps (conversations, messages). Every read is scoped
 * by the authenticated user's id: another user's task is found exactly as an unknown one (not at all).
 *
 * Messages page newest first in stream order, (key_major, key_minor) descending, through
 * messages_stream_order_idx: a ui key is the message's ts (plus its occurrence), an api key its
 * position, so that is the order the assistant shows them. `created_at` is when the projector
 * wrote the row, which after an offline device's replay or a rebuild is not message order.
 */
import type { StreamName } from '../../core/model/changes';
import type { Queryable } from '../db/database';
import { parseKeyOrder } from './plan';

export const DEFAULT_MESSAGE_LIMIT = 100;
export const MAX_MESSAGE_LIMIT = 1000;

export interface ConversationView {
  id: string;
  source: string;
  taskId: string;
  /** The HistoryItem: every field present, merged per field by HLC. */
  meta: Record<string, unknown>;
  /** Seq of the latest change to the task the read model holds. */
  headSeq: number;
  createdAt: string;
  updatedAt: string;
}

export interface MessageView {
  key: string;
  /** sha256 of the entry's JSON. */
  hash: string;
  /** Log seq of the change that wrote this version. */
  seq: number;
  entry: unknown;
}

export interface MessagePage {
  stream: StreamName;
  messages: MessageView[];
  /** Pass as `before` for the next (older) page; absent on the last page. */
  nextBefore?: string;
}

/** The user's live (not deleted) conversation for a task, or undefined. */
export async function findConversation(db: Queryable, userId: string, source: string, taskId: string): Promise<ConversationView | undefined> {
  const { rows } = await db.query<{
    id: string; source: string; task_id: string; metadata: Record<string, unknown>; head_seq: number | string; created_at: Date; updated_at: Date;
  }>(
    `SELECT id, source, task_id, metadata, head_seq, created_at, updated_at FROM conversations
      WHERE user_id = $1 AND source = $2 AND task_id = $3 AND deleted_at IS NULL`,
    [userId, source, taskId],
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    id: row.id,
    source: row.source,
    taskId: row.task_id,
    meta: row.metadata,
    headSeq: Number(row.head_seq),
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

/**
 * One page of a conversation's stream, newest first: at most `limit` entries whose key orders
 * before `before` (all when absent; `before` must be a stream key, checked by the caller), as
 * the JSON text of a MessagePage. Each entry is spliced in as stored in the log (the json column
 * keeps the text as sent) instead of parsed by pg and serialised again: a backfill reads every
 * message of the user through this.
 */
export async function listMessagesJson(
  db: Queryable,
  conversationId: string,
  page: { stream: StreamName; limit: number; before?: string },
  options: { onMissing?: (keys: string[]) => void } = {},
): Promise<string> {
  const before = page.before === undefined ? undefined : parseKeyOrder(page.before);
  // read_model_messages (migration 0011) reads each entry from the log change its row names;
  // compaction keeps every change a message row names, so each one is found.
  const { rows } = await db.query<{ entry_key: string; content_hash: string; seq: number | string; found: boolean; content: string | null; body: string | null }>(
    'SELECT entry_key, content_hash, seq, found, content, body FROM read_model_messages($1, $2, $3, $4, $5)',
    [conversationId, page.stream, before?.major ?? null, before?.minor ?? null, page.limit + 1],
  );
  const more = rows.length > page.limit;
  const shown = more ? rows.slice(0, page.limit) : rows;
  // A row whose change is gone (compaction never removes one a row names) is left out; the
  // page's bounds still come from every row, so paging goes on past it.
  const missing = shown.filter((r) => !r.found).map((r) => r.entry_key);
  if (missing.length > 0) options.onMissing?.(missing);
  const messages = shown.filter((r) => r.found).map(
    (r) => `{"key":${JSON.stringify(r.entry_key)},"hash":${JSON.stringify(r.content_hash)},"seq":${Number(r.seq)},"entry":${r.content ?? entryOf(r.body)}}`,
  );
  const last = shown[shown.length - 1];
  const next = more && last ? `,"nextBefore":${JSON.stringify(last.entry_key)}` : '';
  return `{"stream":${JSON.stringify(page.stream)},"messages":[${messages.join(',')}]${next}}`;
}

/** The entry of a body PostgreSQL could not take apart (it holds the escape \u0000), as JSON text. */
function entryOf(body: string | null): string {
  const parsed = body === null ? undefined : (JSON.parse(body) as { entry?: unknown });
  return JSON.stringify(parsed?.entry ?? null);
}

/** How far the user's read model has followed the change log: both seqs (0 when none). */
export interface ReadModelPosition {
  /** The user's latest change log seq. */
  logSeq: number;
  /** The last log seq the read model has applied. */
  projectedSeq: number;
}

export async function readModelPosition(db: Queryable, userId: string): Promise<ReadModelPosition> {
  const { rows } = await db.query<{ log_seq: number | string | null; projected_seq: number | string | null }>(
    `SELECT (SELECT seq FROM sync_log_heads WHERE user_id = $1) AS log_seq,
            (SELECT seq FROM read_model_cursors WHERE user_id = $1) AS projected_seq`,
    [userId],
  );
  return { logSeq: Number(rows[0]?.log_seq ?? 0), projectedSeq: Number(rows[0]?.projected_seq ?? 0) };
}
