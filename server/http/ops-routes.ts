/**
 * Operations endpoints (no auth: bind the relay to a private interface or proxy them off):
 * - GET /healthz: the process is up and serving (liveness), and its version.
 * - GET /readyz: the database answers (200 `ready`, or 200 `degraded` when Redis is configured
 *   but down: the relay still serves from the database); 503 `unavailable` when the database
 *   does not answer or shutdown has begun.
 * - GET /metrics: Prometheus text format.
 */
import { ROO_SYNC_VERSION } from '../../core/version';
import { sendJson } from './http-errors';
import type { HttpContext } from './http-context';
import type { Router } from './router';

export function registerOpsRoutes(router: Router, ctx: HttpContext): void {
  router.add('GET', '/healthz', async ({ res }) => {
    sendJson(res, 200, { status: 'ok', version: ROO_SYNC_VERSION });
  });

  router.add('GET', '/readyz', async ({ res }) => {
    const database = await ctx.db.health();
    const redisConfigured = ctx.cache.kind === 'redis';
    const redisUp = ctx.cache.healthy();
    const shuttingDown = ctx.shuttingDown();
    const status = shuttingDown || !database.ok ? 'unavailable' : redisConfigured && !redisUp ? 'degraded' : 'ready';
    sendJson(res, status === 'unavailable' ? 503 : 200, {
      status,
      shuttingDown,
      database: { kind: ctx.db.kind, ok: database.ok, latencyMs: Math.round(database.latencyMs * 100) / 100, ...(database.ok ? {} : { detail: database.detail }) },
      cache: { kind: ctx.cache.kind, ok: redisUp },
    });
  });

  router.add('GET', '/metrics', async ({ res }) => {
    const text = await ctx.metrics.render();
    res.writeHead(200, { 'content-type': ctx.metrics.contentType, 'cache-control': 'no-store' });
    res.end(text);
  });
}
