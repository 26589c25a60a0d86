/**
 * GET /v1/tasks (the caller's task list, newest first, paged; `q` words in the task's text,
 * workspace, mode or id, `source` an assistant, `device` the device of its latest change) and GET /v1/tasks/:source/:taskId
 * (one task's folded metadata): read from the change log and cached (server/tasks/task-list.ts),
 * so a device sees its own push there as soon as it is acknowledged.
 * GET /v1/tasks/:source/:taskId/messages (one stream of a task, newest first, paged): read from
 * the read model (server/projections), which follows the log asynchronously (the
 * projection_lag_changes gauge says by how much); 503 PROJECTIONS_DISABLED when it is off.
 * GET /v1/read-model: how far the caller's read model has followed their change log
 * (`{ logSeq, projectedSeq }`), so a reader (backfill) can wait until it covers what was pushed.
 * Bearer auth; every read is scoped to the caller's user. Another user's task answers exactly
 * like an unknown one (404 TASK_NOT_FOUND).
 */
import { SyncError } from '../../core/errors';
import { STREAM_NAMES, type StreamName } from '../../core/model/changes';
import { parseKeyOrder } from '../projections/plan';
import { DEFAULT_MESSAGE_LIMIT, MAX_MESSAGE_LIMIT, findConversation, listMessagesJson, readModelPosition } from '../projections/read-model';
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
    const stream = query.get('stream') ?? 'ui';
    if (!(STREAM_NAMES as readonly string[]).includes(stream)) throw new SyncError('REQUEST_INVALID', 'stream must be ui or api');
    const limit = parseLimit(query.get('limit'), DEFAULT_MESSAGE_LIMIT, MAX_MESSAGE_LIMIT);
    const before = query.get('before') ?? undefined;
    if (before !== undefined && parseKeyOrder(before) === undefined) {
      throw new SyncError('REQUEST_INVALID', 'before must be a stream key (<ts>:<n> or <position>)');
    }
    const conversation = await findConversation(ctx.db, device.userId, params.source ?? '', params.taskId ?? '');
    if (!conversation) throw new SyncError('TASK_NOT_FOUND', 'no such task');
    const page = await listMessagesJson(ctx.db, conversation.id, { stream: stream as StreamName, limit, before }, {
      onMissing: (keys) => ctx.logger.error('read model names log changes that are gone; entries left out', { taskId: params.taskId, stream, keys: keys.slice(0, 20), count: keys.length }),
    });
    sendJsonText(res, 200, page);
  });
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
