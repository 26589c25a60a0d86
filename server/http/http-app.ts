/**
 * The relay's HTTP request handler: routes, JSON errors, metrics and access logs. Every
 * failure becomes `{ error: { code, message } }`; one request's failure never reaches another.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SyncError } from '../../core/errors';
import { SYNC_PATH } from '../sync/sync-endpoint';
import { registerAdminRoutes } from './admin-routes';
import { registerAuthRoutes } from './auth-routes';
import { registerBlobRoutes } from './blob-routes';
import { sendError, statusOf, toSyncError } from './http-errors';
import type { HttpContext } from './http-context';
import { registerOpsRoutes } from './ops-routes';
import { Router } from './router';
import { registerTaskRoutes } from './task-routes';
import { registerWebRoutes } from './web-assets';
import { registerWebAuthRoutes } from './web-auth-routes';

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

export function createHttpHandler(ctx: HttpContext): RequestHandler {
  const router = new Router();
  registerOpsRoutes(router, ctx);
  registerAuthRoutes(router, ctx);
  registerBlobRoutes(router, ctx);
  registerTaskRoutes(router, ctx);
  registerAdminRoutes(router, ctx);
  registerWebAuthRoutes(router, ctx);
  registerWebRoutes(router, ctx.web);
  // The WebSocket endpoint reached without an upgrade (a browser, curl, a proxy that drops
  // the Upgrade header): say what it is instead of "no such route".
  router.add('GET', SYNC_PATH, async () => {
    throw new SyncError('UPGRADE_REQUIRED', `${SYNC_PATH} is the WebSocket endpoint: connect with Upgrade: websocket`);
  });

  return (req, res) => {
    const started = process.hrtime.bigint();
    const method = req.method ?? 'GET';
    let path: string;
    try {
      path = new URL(req.url ?? '/', 'http://relay').pathname;
    } catch {
      path = '/';
    }
    let route = router.label(path);
    res.once('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      ctx.metrics.recordHttp(method, route, res.statusCode, seconds);
      ctx.logger.debug('http request', { method, route, status: res.statusCode, ms: Math.round(seconds * 1000) });
    });
    void (async () => {
      try {
        const match = router.match(method, path);
        route = match.route;
        await match.handler({ req, res, params: match.params, route });
      } catch (err) {
        const error = toSyncError(err);
        const status = statusOf(error);
        ctx.metrics.errors.inc({ code: error.code });
        if (status >= 500) ctx.logger.error('http request failed', { method, route, code: error.code, err });
        const headers: Record<string, string> = {};
        if (error.code === 'METHOD_NOT_ALLOWED' && typeof error.details?.allow === 'string') headers.allow = error.details.allow;
        if (error.code === 'UPGRADE_REQUIRED') headers.upgrade = 'websocket';
        if (error.code === 'RANGE_NOT_SATISFIABLE' && typeof error.details?.size === 'number') headers['content-range'] = `bytes */${error.details.size}`;
        // The request body may be unread (refused before buffering): do not keep reading it.
        if (!req.readableEnded) headers.connection = 'close';
        if (res.headersSent) res.destroy();
        else sendError(res, error, headers);
      }
    })();
  };
}
