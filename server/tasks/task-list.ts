/**
 * The user's task list and one task's metadata, read from the change log (`sync_operations`)
 * and cached through CachedQuery (name `tasks`, tag `user:<userId>`). A task is listed when it
 * has a task.meta change and no later task.delete; its metadata is `foldMetaBodies` over its
 * task.meta bodies after its last delete, in seq order. The sync side invalidates the tag after
 * every committed push holding a task.meta or task.delete change (see `touchesTasks`).
 */
import { SyncError } from '../../core/errors';
import type { ChangeBody, ServerChange, TaskMetaBody } from '../../core/model/changes';
import { foldMetaBodies } from '../../core/merge/metadata-merge';
import { CachedQuery, type CacheStats } from '../cache/cached-query';
import type { Cache } from '../cache/ports';
import type { Queryable } from '../db/database';
import type { Logger } from '../observability/logger';

/** One listed task: its key, folded metadata and the seq of its latest change. */
export interface TaskSummary {
  source: string;
  taskId: string;
  /** Seq of the task's latest change (task.meta or task.delete before a re-creation). */
  seq: number;
  /** The device that made the task's latest metadata change (where it was last worked on). */
  deviceId: string;
  /** The HistoryItem `ts` field of the folded metadata (0 when absent or not a number). */
  ts: number;
  /** Folded HistoryItem fields; fields removed (set to null) are left out. */
  meta: Record<string, unknown>;
}

export interface TaskPage {
  tasks: TaskSummary[];
  /** Tasks matching the filters, over every page. */
  total: number;
  /** Pass as `cursor` for the next page; absent on the last page. */
  nextCursor?: string;
}

export const DEFAULT_TASK_LIST_LIMIT = 100;
export const MAX_TASK_LIST_LIMIT = 1000;

/** The cache's name in metrics and keys. */
export const TASKS_CACHE_NAME = 'tasks';

/** The tag every cached task read of `userId` carries. */
export function userTag(userId: string): string {
  return `user:${userId}`;
}

/** True when committing `changes` can change a task list (a task.meta or task.delete among them). */
export function touchesTasks(changes: readonly ServerChange[]): boolean {
  return changes.some((c) => c.body.type === 'task.meta' || c.body.type === 'task.delete');
}

export interface TaskListOptions {
  db: Queryable;
  cache: Cache;
  ttlSeconds: number;
  stats?: CacheStats;
  logger?: Logger;
}

/** Which tasks a page lists; every filter is optional and they combine. */
export interface TaskFilter {
  /** Words that must all occur (case-insensitive) in the task's text, workspace, mode or id. */
  text?: string;
  /** The assistant (task source). */
  source?: string;
  /** The device of the task's latest metadata change. */
  deviceId?: string;
}

interface TaskRow {
  device_id: string;
  entity: string;
  seq: number | string;
  body: ChangeBody | string;
}

export class TaskList {
  private readonly db: Queryable;
  private readonly query: CachedQuery<TaskSummary[]>;

  constructor(options: TaskListOptions) {
    this.db = options.db;
    this.query = new CachedQuery<TaskSummary[]>({
      cache: options.cache,
      name: TASKS_CACHE_NAME,
      ttlSeconds: options.ttlSeconds,
      stats: options.stats,
      logger: options.logger,
    });
  }

  /** One page of the user's tasks, newest `ts` first (ties: higher seq first). Throws REQUEST_INVALID for a bad cursor. */
  async list(userId: string, page: { limit?: number; cursor?: string; filter?: TaskFilter } = {}): Promise<TaskPage> {
    const limit = page.limit ?? DEFAULT_TASK_LIST_LIMIT;
    const all = filterTasks(await this.all(userId), page.filter ?? {});
    let start = 0;
    if (page.cursor !== undefined) {
      const after = decodeCursor(page.cursor);
      start = all.findIndex((t) => compareTasks(t, after) > 0);
      if (start < 0) start = all.length;
    }
    const tasks = all.slice(start, start + limit);
    const last = tasks[tasks.length - 1];
    const total = all.length;
    return start + limit < all.length && last ? { tasks, total, nextCursor: encodeCursor(last) } : { tasks, total };
  }

  /** One task of the user, or undefined (unknown, deleted, or another user's). */
  async get(userId: string, source: string, taskId: string): Promise<TaskSummary | undefined> {
    return (await this.all(userId)).find((t) => t.source === source && t.taskId === taskId);
  }

  /** Drops the user's cached task reads in every relay process sharing the cache. Never throws. */
  invalidateUser(userId: string): Promise<void> {
    return this.query.invalidateTags(userTag(userId));
  }

  /** Stops listening to the cache's health. Idempotent. */
  close(): void {
    this.query.close();
  }

  private all(userId: string): Promise<TaskSummary[]> {
    return this.query.get(userId, () => loadTasks(this.db, userId), { tags: [userTag(userId)] });
  }
}

/** Reads and folds every task of `userId` from the change log, sorted newest first. */
export async function loadTasks(db: Queryable, userId: string): Promise<TaskSummary[]> {
  const { rows } = await db.query<TaskRow>(
    `SELECT device_id, entity, seq, body FROM sync_operations
      WHERE user_id = $1 AND change_type IN ('task.meta', 'task.delete') ORDER BY entity, seq`,
    [userId],
  );
  const byEntity = new Map<string, { metas: TaskMetaBody[]; seq: number; deviceId: string }>();
  for (const row of rows) {
    const body = (typeof row.body === 'string' ? JSON.parse(row.body) : row.body) as ChangeBody;
    const seq = Number(row.seq);
    let entry = byEntity.get(row.entity);
    if (!entry) {
      entry = { metas: [], seq, deviceId: row.device_id };
      byEntity.set(row.entity, entry);
    }
    entry.seq = seq;
    if (body.type === 'task.delete') entry.metas = [];
    else if (body.type === 'task.meta') {
      entry.metas.push(body);
      entry.deviceId = row.device_id;
    }
  }
  const tasks: TaskSummary[] = [];
  for (const { metas, seq, deviceId } of byEntity.values()) {
    if (metas.length === 0) continue;
    const folded = foldMetaBodies(metas);
    const meta: Record<string, unknown> = {};
    for (const [field, value] of Object.entries(folded.fields)) if (value !== null) meta[field] = value;
    const ts = typeof meta.ts === 'number' && Number.isFinite(meta.ts) ? meta.ts : 0;
    tasks.push({ source: folded.source, taskId: folded.taskId, deviceId, seq, ts, meta });
  }
  return tasks.sort((a, b) => compareTasks(a, b));
}

/** The tasks (in their order) that pass every filter given. */
export function filterTasks(tasks: TaskSummary[], filter: TaskFilter): TaskSummary[] {
  const words = (filter.text ?? '').toLowerCase().split(/\s+/).filter((w) => w.length > 0);
  if (words.length === 0 && filter.source === undefined && filter.deviceId === undefined) return tasks;
  return tasks.filter((t) => {
    if (filter.source !== undefined && t.source !== filter.source) return false;
    if (filter.deviceId !== undefined && t.deviceId !== filter.deviceId) return false;
    if (words.length === 0) return true;
    const haystack = [t.taskId, t.meta.task, t.meta.workspace, t.meta.cwdOnTaskInitialization, t.meta.mode]
      .filter((v): v is string => typeof v === 'string')
      .join('\n')
      .toLowerCase();
    return words.every((w) => haystack.includes(w));
  });
}

/** Listing order: newest ts first, then higher seq first. Negative when `a` comes first. */
function compareTasks(a: { ts: number; seq: number }, b: { ts: number; seq: number }): number {
  return b.ts - a.ts || b.seq - a.seq;
}

function encodeCursor(task: TaskSummary): string {
  return Buffer.from(JSON.stringify([task.ts, task.seq])).toString('base64url');
}

function decodeCursor(cursor: string): { ts: number; seq: number } {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(value) && value.length === 2 && value.every((n) => typeof n === 'number' && Number.isFinite(n))) {
      return { ts: value[0] as number, seq: value[1] as number };
    }
  } catch {
    // fall through
  }
  throw new SyncError('REQUEST_INVALID', 'cursor is not one this endpoint returned');
}
