/**
 * GET /v1/tasks (the caller's task list, newest first, paged; `q` words in the task's text,
 * workspace, mode or id, `source` an assistant, `device` the device of its latest change) and GET /v1/tasks/:source/:taskId
 * (one task's folded metadata): read from the change log and cached (server/tasks/task-list.ts),
 * so a device sees its own push there as soon as it is acknowledged.
 * GET /v1/tasks/:source/:taskId/messages (one stream of a task, newest first, paged): read from
 * the read model (server/projections), which follows the log asynchronously (the
 * projection_lag_changes gauge says by how much); 503 PROJECTIONS_DISABLED when it is off.
 * GET /v1/tasks/:source/:taskId/streams/:stream (one stream as the assistant's file holds it: a
 * JSON array of the entries, oldest first, paged by `after` and the Roo-Sync-Next-After header):
 * the same read model, for a backfill that writes the file without parsing it.
 * GET /v1/read-model: how far the caller's read model has followed their change log
 * (`{ logSeq, projectedSeq }`), so a reader (backfill) can wait until it covers what was pushed.
 * Bearer auth; every read is scoped to the caller's user. Another user's task answers exactly
 * like an unknown one (404 TASK_NOT_FOUND).
 */
import { SyncError } from '../../core/errors';
import { STREAM_NAMES, type StreamName } from '../../core/model/changes';
import { STREAM_NEXT_AFTER_HEADER } from '../../core/protocol/stream-page';
import { parseKeyOrder } from '../projections/plan';
import { DEFAULT_MESSAGE_LIMIT, MAX_MESSAGE_LIMIT, findConversation, listMessagesJson, listStreamFileJson, readModelPosition } from '../projections/read-model';
import { DEFAULT_TASK_LIST_LIMIT, MAX_TASK_LIST_LIMIT } from '../tasks/task-list';
import { authenticate } from './auth-routes';
import { sendJson, sendJsonText } from './http-errors';
import type { HttpContext } from './http-context';
import type { Router } from './router';

export function registerTaskRoutes(router: Router, ctx: HttpContext): void {
  router.add('GET', '/v1/tasks', async ({ req, res }) => {
    const device = await authenticate(ctx, req);
    const query = new URL(req.url ?? '/', 'http://relay').searchParams;
    const limit = parseLimit(query.get('limit'));
    const cursor = query.get('cursor') ?? undefined;
    const filter = {
      text: boundedParam(query, 'q', 200),
      source: boundedParam(query, 'source', 32),
      deviceId: boundedParam(query, 'device', 64),
    };
    const page = await ctx.tasks.list(device.userId, { limit, cursor, filter });
    sendJson(res, 200, page);
  });

  router.add('GET', '/v1/tasks/:source/:taskId', async ({ req, res, params }) => {
    const device = await authenticate(ctx, req);
    const task = await ctx.tasks.get(device.userId, params.source ?? '', params.taskId ?? '');
    if (!task) throw new SyncError('TASK_NOT_FOUND', 'no such task');
    sendJson(res, 200, task);
  });

  router.add('GET', '/v1/read-model', async ({ req, res }) => {
    const device = await authenticate(ctx, req);
    requireProjections(ctx);
    sendJson(res, 200, await readModelPosition(ctx.db, device.userId));
  });

  router.add('GET', '/v1/tasks/:source/:taskId/messages', async ({ req, res, params }) => {
    const device = await authenticate(ctx, req);
    requireProjections(ctx);
    const query = new URL(req.url ?? '/', 'http://relay').searchParams;
    const stream = streamParam(query.get('stream') ?? 'ui');
    const limit = parseLimit(query.get('limit'), DEFAULT_MESSAGE_LIMIT, MAX_MESSAGE_LIMIT);
    const before = keyParam(query, 'before');
    const conversation = await findConversation(ctx.db, device.userId, params.source ?? '', params.taskId ?? '');
    if (!conversation) throw new SyncError('TASK_NOT_FOUND', 'no such task');
    const page = await listMessagesJson(ctx.db, conversation.id, { stream, limit, before }, { onMissing: logMissing(ctx, params.taskId, stream) });
    sendJsonText(res, 200, page);
  });

  router.add('GET', '/v1/tasks/:source/:taskId/streams/:stream', async ({ req, res, params }) => {
    const device = await authenticate(ctx, req);
    requireProjections(ctx);
    const query = new URL(req.url ?? '/', 'http://relay').searchParams;
    const stream = streamParam(params.stream ?? '');
    const limit = parseLimit(query.get('limit'), MAX_MESSAGE_LIMIT, MAX_MESSAGE_LIMIT);
    const after = keyParam(query, 'after');
    const conversation = await findConversation(ctx.db, device.userId, params.source ?? '', params.taskId ?? '');
    if (!conversation) throw new SyncError('TASK_NOT_FOUND', 'no such task');
    const page = await listStreamFileJson(ctx.db, conversation.id, { stream, limit, after }, { onMissing: logMissing(ctx, params.taskId, stream) });
    sendJsonText(res, 200, page.json, page.nextAfter !== undefined ? { [STREAM_NEXT_AFTER_HEADER]: page.nextAfter } : {});
  });
}

function streamParam(stream: string): StreamName {
  if (!(STREAM_NAMES as readonly string[]).includes(stream)) throw new SyncError('REQUEST_INVALID', 'stream must be ui or api');
  return stream as StreamName;
}

/** A stream key parameter (`before`, `after`), or undefined; REQUEST_INVALID when it is not a key. */
function keyParam(query: URLSearchParams, name: string): string | undefined {
  const key = query.get(name) ?? undefined;
  if (key !== undefined && parseKeyOrder(key) === undefined) {
    throw new SyncError('REQUEST_INVALID', `${name} must be a stream key (<ts>:<n> or <position>)`);
  }
  return key;
}

function logMissing(ctx: HttpContext, taskId: string | undefined, stream: StreamName): (keys: string[]) => void {
  return (keys) => ctx.logger.error('read model names log changes that are gone; entries left out', { taskId, stream, keys: keys.slice(0, 20), count: keys.length });
}

/** A query parameter up to `max` characters (absent or empty: undefined); REQUEST_INVALID when longer. */
function boundedParam(query: URLSearchParams, name: string, max: number): string | undefined {
  const value = query.get(name);
  if (value === null || value === '') return undefined;
  if (value.length > max) throw new SyncError('REQUEST_INVALID', `${name} is longer than ${max} characters`, { field: name });
  return value;
}

function parseLimit(raw: string | null, fallback = DEFAULT_TASK_LIST_LIMIT, max = MAX_TASK_LIST_LIMIT): number {
  if (raw === null) return fallback;
  const limit = /^\d{1,7}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > max) {
    throw new SyncError('REQUEST_INVALID', `limit must be an integer in 1..${max}`);
  }
  return limit;
}

function requireProjections(ctx: HttpContext): void {
  if (!ctx.config.sync.projections) {
    throw new SyncError('PROJECTIONS_DISABLED', 'this relay runs without the read model (PROJECTIONS=off)');
  }
}
