/**
 * GET /v1/tasks (the caller's task list, newest first, paged) and GET /v1/tasks/:source/:taskId
 * (one task's folded metadata). Bearer auth; reads are scoped to the caller's user and cached
 * (server/tasks/task-list.ts). Another user's task answers exactly like an unknown one
 * (404 TASK_NOT_FOUND).
 */
import { SyncError } from '../../core/errors';
import { DEFAULT_TASK_LIST_LIMIT, MAX_TASK_LIST_LIMIT } from '../tasks/task-list';
import { authenticate } from './auth-routes';
import { sendJson } from './http-errors';
import type { HttpContext } from './http-context';
import type { Router } from './router';

export function registerTaskRoutes(router: Router, ctx: HttpContext): void {
  router.add('GET', '/v1/tasks', async ({ req, res }) => {
    const device = await authenticate(ctx, req);
    const query = new URL(req.url ?? '/', 'http://relay').searchParams;
    const limit = parseLimit(query.get('limit'));
    const cursor = query.get('cursor') ?? undefined;
    const page = await ctx.tasks.list(device.userId, { limit, cursor });
    sendJson(res, 200, page);
  });

  router.add('GET', '/v1/tasks/:source/:taskId', async ({ req, res, params }) => {
    const device = await authenticate(ctx, req);
    const task = await ctx.tasks.get(device.userId, params.source ?? '', params.taskId ?? '');
    if (!task) throw new SyncError('TASK_NOT_FOUND', 'no such task');
    sendJson(res, 200, task);
  });
}

function parseLimit(raw: string | null): number {
  if (raw === null) return DEFAULT_TASK_LIST_LIMIT;
  const limit = /^\d{1,7}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_TASK_LIST_LIMIT) {
    throw new SyncError('REQUEST_INVALID', `limit must be an integer in 1..${MAX_TASK_LIST_LIMIT}`);
  }
  return limit;
}
