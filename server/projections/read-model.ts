/**
 * Reads of the read model the projector keeps (conversations, messages). Every read is scoped
 * by the authenticated user's id: another user's task is found exactly as an unknown one (not at all).
 *
 * Messages page newest first in stream order, (key_major, key_minor) descending, through
 * messages_stream_order_idx: a ui key is the message's ts (plus its occurrence), an api key its
 * position, so that is the order the assistant shows them. `created_at` is when the projector
 * wrote the row, which after an offline device's replay or a rebuild is not message order.
 */
import { isSyncError } from '../../core/errors';
import type { StreamName } from '../../core/model/changes';
import type { Queryable } from '../db/database';
import { entryTextSql } from '../db/put-body';
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
 * keeps the text as sent) instead of parsed by pg and serialised again.
 */
export async function listMessagesJson(
  db: Queryable,
  conversationId: string,
  page: { stream: StreamName; limit: number; before?: string },
  options: { onMissing?: (keys: string[]) => void } = {},
): Promise<string> {
  const { rows, nextKey } = await readPage(db, conversationId, { stream: page.stream, limit: page.limit, from: page.before, order: 'newest' }, options);
  const messages = rows.map(
    (r) => `{"key":${JSON.stringify(r.entry_key)},"hash":${JSON.stringify(r.content_hash)},"seq":${Number(r.seq)},"entry":${r.content ?? 'null'}}`,
  );
  const next = nextKey !== undefined ? `,"nextBefore":${JSON.stringify(nextKey)}` : '';
  return `{"stream":${JSON.stringify(page.stream)},"messages":[${messages.join(',')}]${next}}`;
}

/** One page of a stream as the assistant's file holds it. */
export interface StreamFilePage {
  /** A JSON array of the entries, oldest first, each as stored in the log. */
  json: string;
  /** Pass as `after` for the next page; absent on the last page. */
  nextAfter?: string;
}

/**
 * One page of a conversation's stream, oldest first: at most `limit` entries whose key orders
 * after `after` (from the first when absent), as a JSON array of the entries alone, the text
 * of the assistant's stream file. The pages joined are the whole file, which a backfill writes
 * without parsing a message or serialising it again.
 */
export async function listStreamFileJson(
  db: Queryable,
  conversationId: string,
  page: { stream: StreamName; limit: number; after?: string },
  options: { onMissing?: (keys: string[]) => void } = {},
): Promise<StreamFilePage> {
  const { rows, nextKey } = await readPage(db, conversationId, { stream: page.stream, limit: page.limit, from: page.after, order: 'oldest' }, options);
  return { json: `[${rows.map((r) => r.content ?? 'null').join(',')}]`, ...(nextKey !== undefined ? { nextAfter: nextKey } : {}) };
}

/**
 * The rows of one page, `order` from `from` (exclusive), without those whose change is gone
 * (reported to `onMissing`); `nextKey`: the key to page on from, when there are more rows.
 */
async function readPage(
  db: Queryable,
  conversationId: string,
  page: { stream: StreamName; limit: number; from?: string; order: 'newest' | 'oldest' },
  options: { onMissing?: (keys: string[]) => void },
): Promise<{ rows: PageRow[]; nextKey?: string }> {
  const from = page.from === undefined ? undefined : parseKeyOrder(page.from);
  const params: unknown[] = [conversationId, page.stream, page.limit + 1];
  const direction = page.order === 'newest' ? 'DESC' : 'ASC';
  let bound = '';
  if (from) {
    params.push(from.major, from.minor);
    bound = `AND (m.key_major, m.key_minor) ${page.order === 'newest' ? '<' : '>'} ($4, $5)`;
  }
  let rows: PageRow[];
  try {
    rows = (await db.query<PageRow>(pageSql(bound, entryTextSql('o'), direction), params)).rows;
  } catch (err) {
    // PostgreSQL's json functions refuse to take apart a text holding the escape \u0000 (an
    // entry a device sent with a NUL): read those pages' bodies whole and take the entries out here.
    if (!(isSyncError(err) && err.details?.sqlState === UNTRANSLATABLE_CHARACTER)) throw err;
    rows = (await db.query<PageRow>(pageSql(bound, 'o.body::text', direction), params)).rows.map((r) => ({ ...r, content: r.content === null ? null : entryOf(r.content) }));
  }
  const more = rows.length > page.limit;
  const shown = more ? rows.slice(0, page.limit) : rows;
  // A row whose change is gone (compaction never removes one a row names) is left out; the
  // page's bounds still come from every row, so paging goes on past it.
  const missing = shown.filter((r) => !r.found).map((r) => r.entry_key);
  if (missing.length > 0) options.onMissing?.(missing);
  const last = shown[shown.length - 1];
  return { rows: shown.filter((r) => r.found), ...(more && last ? { nextKey: last.entry_key } : {}) };
}

interface PageRow {
  entry_key: string;
  content_hash: string;
  seq: number | string;
  /** False where the change the row names is gone (compaction never removes one). */
  found: boolean;
  content: string | null;
}

/** SQLSTATE 22P05, which PostgreSQL gives a json text holding \u0000 that it must take apart. */
const UNTRANSLATABLE_CHARACTER = '22P05';

/**
 * One page of a stream, `content` taken from the named change's body by `content`. The page is
 * chosen first; then each entry is one probe of the log's primary key (the LIMIT keeps the
 * planner from turning the probes into a scan of the user's log, which right after a bulk load
 * its statistics make look cheaper). The json type's `->` returns the entry's text as sent.
 */
function pageSql(bound: string, content: string, direction: 'ASC' | 'DESC'): string {
  return `SELECT p.entry_key, p.content_hash, p.seq, o.seq IS NOT NULL AS found, ${content} AS content
    FROM (SELECT m.entry_key, m.content_hash, m.seq, m.key_major, m.key_minor FROM messages m
           WHERE m.conversation_id = $1 AND m.stream = $2 ${bound}
           ORDER BY m.key_major ${direction}, m.key_minor ${direction} LIMIT $3) p
    LEFT JOIN LATERAL (SELECT s.seq, s.body, s.head FROM sync_operations s
                        WHERE s.user_id = (SELECT c.user_id FROM conversations c WHERE c.id = $1) AND s.seq = p.seq
                        LIMIT 1) o ON true
   ORDER BY p.key_major ${direction}, p.key_minor ${direction}`;
}

/** The entry of a whole body, as JSON text. */
function entryOf(body: string): string {
  return JSON.stringify((JSON.parse(body) as { entry?: unknown }).entry ?? null);
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
