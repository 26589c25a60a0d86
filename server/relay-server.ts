/**
 * The relay's composition root: one node:http server carrying the HTTP API (server/http) and
 * the WebSocket endpoint `/v1/sync` (server/sync) on one port, over the Database, Cache and
 * PubSub ports.
 *
 * Start: bind the port (so a taken port fails before anything is created; requests meanwhile
 * get 503 RELAY_STARTING), open the database (PostgreSQL with `database.url`, else embedded PGlite in
 * `database.dataDir`), run pending migrations under the advisory lock (with migration off: refuse
 * to start unless the schema is exactly up to date), open the cache and pub/sub (Redis with `redis.url`, else in-process), start the session
 * validator, then serve. Injected `deps` are used as given and not closed by the relay.
 *
 * `close()` is ordered and idempotent: stop accepting, report not-ready, close WebSockets,
 * drain HTTP requests (up to `http.shutdownGraceMs`), stop the retention job, stop the
 * projector (waiting for its batch in flight), close the session validator, cache and pub/sub,
 * and last the database. It installs no signal handler:
 * the CLI does that.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { SyncError } from '../core/errors';
import { AuthService } from './auth/auth-service';
import { SessionValidator } from './auth/access-tokens';
import { LoginRateLimit, loginRateLimitOptions, type LoginRateLimitOptions } from './auth/login-rate-limit';
import { scheduleCompaction, type CompactionSchedule } from './accounts/retention';
import { openCache, type CacheBackend } from './cache/open-cache';
import type { MemoryPubSubHub } from './cache/memory-pubsub';
import type { Cache, PubSub } from './cache/ports';
import { describeConfig } from './config/load-config';
import type { RelayConfig } from './config/relay-config';
import type { Database } from './db/database';
import { migrate, validate } from './db/migrator';
import { describeDatabaseUrl, openDatabase } from './db/open-database';
import { createHttpHandler, type RequestHandler } from './http/http-app';
import { localUrlOf, newAdminToken, writeAdminAccess } from './http/admin-access';
import { defaultWebRoot, WebAssets } from './http/web-assets';
import { sendError } from './http/http-errors';
import { proxyTrust, type TrustProxySetting } from './http/trusted-proxies';
import { createLogger, type Logger } from './observability/logger';
import { RelayMetrics } from './observability/metrics';
import { Projector } from './projections/projector';
import { attachSyncEndpoint, type SyncEndpoint } from './sync/sync-endpoint';
import { TaskList, touchesTasks } from './tasks/task-list';

export interface RelayServer {
  /** `http://127.0.0.1:PORT` (the bound host and port). */
  readonly url: string;
  readonly port: number;
  /** The relay's session validator (tests and embedders revoke through it). */
  readonly sessions: SessionValidator;
  readonly db: Database;
  readonly metrics: RelayMetrics;
  /** The read-model projector; undefined when `sync.projections` is off. */
  readonly projector: Projector | undefined;
  /** Ordered, idempotent shutdown (see the module comment). */
  close(): Promise<void>;
}

export interface RelayServerDeps {
  db: Database;
  cache: Cache;
  pubsub: PubSub;
  logger: Logger;
}

/**
 * Relay behaviour for embedders and tests. The first four override their RelayConfig field when
 * given (the CLI sets only the config).
 */
export interface RelayServerOptions {
  /** Overrides `database.migrate`: apply pending migrations at start, else refuse a schema that is not up to date. */
  migrate?: boolean;
  /** Overrides `auth.allowSignup`: let anyone create an account with POST /v1/users. */
  allowSignup?: boolean;
  /** Overrides `http.trustProxy`: which peers' X-Forwarded-For names the client (true: any). */
  trustProxy?: TrustProxySetting;
  /** Overrides `sync.compactionIntervalSeconds`: how often the change-log retention job runs, ms; 0 disables it. */
  compactionIntervalMs?: number;
  /** Overrides the login rate limits of `config.auth` (tests). */
  loginRateLimit?: LoginRateLimitOptions;
  /** In-process pub/sub hub shared by several relays in one process (tests without Redis). */
  memoryHub?: MemoryPubSubHub;
  /** How long to wait for Redis at start before serving degraded, ms. Default `redis.connectTimeoutMs`. */
  redisWaitMs?: number;
  /** How often the projector looks for users whose read model lags the log, ms; 0: only at start. Default 30 s. */
  projectionSweepMs?: number;
  /**
   * The built web page served at `/` (a folder with index.html, as `npm run build` writes to
   * dist/web). Default: dist/web found next to the relay's code; false serves no page.
   */
  webRoot?: string | false;
}

export async function startRelayServer(
  config: RelayConfig,
  deps: Partial<RelayServerDeps> = {},
  options: RelayServerOptions = {},
): Promise<RelayServer> {
  const logger = deps.logger ?? createLogger({ level: config.log.level, format: config.log.format, fields: { component: 'relay' } });
  const metrics = new RelayMetrics({ processMetrics: true });
  const cleanup: Array<() => Promise<void>> = [];
  const unwind = async (): Promise<void> => {
    for (const step of cleanup.reverse()) await step().catch((err: unknown) => logger.warn('shutdown step failed', { err }));
  };

  try {
    // Bind first: a port that is taken fails the start (SERVER_LISTEN_FAILED) before anything
    // is created or migrated. Until the relay is ready every request is answered 503
    // RELAY_STARTING and every WebSocket upgrade refused, the same way.
    let handler: RequestHandler | undefined;
    let shuttingDown = false;
    let inFlight = 0;
    const exchanges = new WeakMap<Socket, { req: IncomingMessage; res: ServerResponse }>();
    const server = createServer((req, res) => {
      if (!handler) {
        sendError(res, startingError(), { 'retry-after': '1', connection: 'close' });
        return;
      }
      inFlight++;
      exchanges.set(req.socket, { req, res });
      res.once('close', () => {
        inFlight--;
        if (exchanges.get(req.socket)?.res === res) exchanges.delete(req.socket);
      });
      handler(req, res);
    });
    // No total request deadline: a blob upload may take long while it keeps sending. What ends a
    // stalled request is the idle timeout (`server.timeout` arms socket.setTimeout on every
    // connection; ws clears it on the sockets it upgrades).
    server.requestTimeout = 0;
    server.headersTimeout = 30_000;
    server.timeout = config.http.idleTimeoutMs;
    server.on('timeout', (socket: Socket) => endIdleExchange(socket, exchanges.get(socket), config.http.idleTimeoutMs, logger));
    const refuseUpgrade = (_req: IncomingMessage, socket: Duplex): void => {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    };
    server.on('upgrade', refuseUpgrade);
    await listen(server, config.http.port, config.http.host);
    cleanup.push(() => closeServer(server));
    logger.debug('port bound; opening the database', { port: (server.address() as AddressInfo).port });

    let migrating = false;
    const db = deps.db ?? (await openDatabase({
      databaseUrl: config.database.url,
      dataDir: config.database.dataDir,
      pool: {
        max: config.database.poolMax,
        idleTimeoutMs: config.database.poolIdleTimeoutMs,
        acquireTimeoutMs: config.database.poolAcquireTimeoutMs,
        statementTimeoutMs: config.database.statementTimeoutMs,
      },
      slowQueryMs: config.database.slowQueryMs,
      onQuery: (ms, sql) => metrics.recordQuery(queryOp(sql), ms / 1000, ms >= config.database.slowQueryMs),
      // Migrations are slow by nature and their SQL is long: timed in "migrations applied", not here.
      onSlowQuery: ({ durationMs, sql }) => {
        if (!migrating) logger.warn('slow query', { durationMs: Math.round(durationMs), sql });
      },
      onPoolError: (err) => logger.warn('database pool error', { err }),
    }));
    if (!deps.db) cleanup.push(() => db.close());
    const unbindPool = metrics.bindDbPool(async () => (await db.health()).pool);
    cleanup.push(async () => unbindPool());

    migrating = true;
    try {
      if (options.migrate ?? config.database.migrate) {
        const result = await migrate(db);
        if (result.applied.length > 0) {
          logger.info('migrations applied', {
            versions: result.applied.map((m) => m.version),
            current: result.current,
            durationMs: Math.round(result.applied.reduce((sum, m) => sum + m.durationMs, 0)),
          });
        }
      } else {
        await assertSchemaCurrent(db);
      }
    } finally {
      migrating = false;
    }

    let backend: Pick<CacheBackend, 'kind' | 'cache' | 'pubsub' | 'healthy'>;
    if (deps.cache && deps.pubsub) {
      const { cache, pubsub } = deps;
      backend = { kind: config.redis.url ? 'redis' : 'memory', cache, pubsub, healthy: () => cache.healthy() && pubsub.healthy() };
      const unbind = metrics.bindRedisHealth(() => backend.healthy());
      cleanup.push(async () => unbind());
    } else {
      const opened = await openCache({
        redisUrl: config.redis.url,
        keyPrefix: config.redis.keyPrefix,
        connectTimeoutMs: config.redis.connectTimeoutMs,
        waitForReadyMs: options.redisWaitMs ?? config.redis.connectTimeoutMs,
        memoryHub: options.memoryHub,
        logger,
        metrics,
      });
      cleanup.push(() => opened.close());
      backend = opened;
    }

    const sessions = await SessionValidator.start({
      db, cache: backend.cache, pubsub: backend.pubsub, ttlSeconds: config.cache.sessionTtlSeconds, metrics, logger,
    });
    cleanup.push(() => sessions.close());
    const auth = new AuthService({
      db,
      sessions,
      accessTokenTtlSeconds: config.auth.accessTokenTtlSeconds,
      refreshTokenTtlSeconds: config.auth.refreshTokenTtlSeconds,
      refreshReuseGraceSeconds: config.auth.refreshReuseGraceSeconds,
      rateLimit: new LoginRateLimit(db, { ...loginRateLimitOptions(config.auth), ...options.loginRateLimit }),
      logger,
    });

    const tasks = new TaskList({
      db, cache: backend.cache, ttlSeconds: config.cache.queryTtlSeconds, stats: metrics.cacheStats(), logger,
    });
    cleanup.push(async () => tasks.close());

    // Started before the socket endpoint so no commit is missed; its first sweep catches up
    // every user a crash or a relay with projections off left behind.
    // The projector gives way to pushes waiting for a commit (bounded); the endpoint comes later.
    let pushesWaiting = (): number => 0;
    const projector = config.sync.projections
      ? new Projector({ db, logger, metrics, sweepIntervalMs: options.projectionSweepMs, busy: () => pushesWaiting() > 0 }).start()
      : undefined;
    if (projector) cleanup.push(() => projector.close());

    // The embedded database is this process's alone: `roo-sync user add` reaches it through
    // the relay instead, with a token written into the data directory (admin-access.ts).
    const adminToken = db.kind === 'pglite' && !deps.db ? newAdminToken() : undefined;
    const webRoot = options.webRoot === false ? undefined : options.webRoot ?? defaultWebRoot();
    const web = webRoot ? await WebAssets.load(webRoot) : undefined;
    if (webRoot && !web) logger.warn('no web page in the web root (index.html missing)', { webRoot });
    const ready = createHttpHandler({
      db, sessions, auth, config, metrics, logger, tasks, web,
      cache: { kind: backend.kind, healthy: () => backend.healthy() },
      allowSignup: options.allowSignup ?? config.auth.allowSignup,
      trustProxy: proxyTrust(options.trustProxy ?? config.http.trustProxy),
      shuttingDown: () => shuttingDown,
      adminToken,
    });
    server.off('upgrade', refuseUpgrade);
    const sync: SyncEndpoint = attachSyncEndpoint(server, {
      db, cache: backend.cache, pubsub: backend.pubsub, logger, metrics, config, sessions,
      onCommitted: (userId, stored) => {
        projector?.markDirty(userId);
        return touchesTasks(stored) ? tasks.invalidateUser(userId) : Promise.resolve();
      },
    });
    pushesWaiting = () => sync.pushesWaiting;
    handler = ready;
    const address = server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const url = `http://${host}:${address.port}`;

    const compaction: CompactionSchedule = scheduleCompaction({
      db,
      intervalMs: options.compactionIntervalMs ?? config.sync.compactionIntervalSeconds * 1000,
      ageSeconds: config.sync.compactionAgeSeconds,
      commandRetentionSeconds: config.sync.commandRetentionSeconds,
      logger,
    });

    const embedded = db.kind === 'pglite';
    const inProcess = backend.kind === 'memory';
    if (embedded || inProcess) {
      // Say exactly what keeps this relay to one process: "embedded mode" only when both are.
      const what = embedded && inProcess ? 'embedded mode' : embedded ? 'embedded database (PGlite)' : 'in-process cache and pub/sub';
      logger.info(`${what}: single relay process`, {
        ...(embedded ? { database: 'PGlite (set DATABASE_URL for PostgreSQL)' } : {}),
        ...(inProcess ? { cacheAndPubSub: 'in-process (set REDIS_URL to run several relays)' } : {}),
      });
    }

    if (adminToken) {
      const removeAccess = writeAdminAccess(config.database.dataDir, { url: localUrlOf(address), token: adminToken, pid: process.pid });
      cleanup.push(async () => removeAccess());
    }

    logger.info('relay listening', {
      url,
      port: address.port,
      database: embedded ? `embedded PGlite in ${config.database.dataDir}` : describeDatabaseUrl(config.database.url ?? ''),
      cache: backend.kind === 'redis' ? 'redis' : 'in-process',
      config: describeConfig(config),
    });

    let closing: Promise<void> | undefined;
    return {
      url,
      port: address.port,
      sessions,
      db,
      metrics,
      projector,
      close() {
        closing ??= (async () => {
          shuttingDown = true;
          logger.info('relay shutting down');
          const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
          await sync.close().catch((err: unknown) => logger.warn('sync endpoint close failed', { err }));
          server.closeIdleConnections();
          const deadline = Date.now() + config.http.shutdownGraceMs;
          while (inFlight > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
          server.closeAllConnections();
          await stopped;
          await compaction.stop();
          await projector?.close();
          await unwind();
          logger.info('relay stopped');
        })();
        return closing;
      },
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}

/**
 * With migration off, the relay must not serve a schema it was not built for: MIGRATION_PENDING
 * when migrations are missing; the migrator's MIGRATION_CHECKSUM_MISMATCH /
 * MIGRATION_UNKNOWN_VERSION when an applied one drifted or is newer than this relay.
 */
async function assertSchemaCurrent(db: Database): Promise<void> {
  const state = await validate(db);
  const pending = state.entries.filter((entry) => entry.state === 'pending').map((entry) => entry.version);
  if (pending.length > 0) {
    throw new SyncError(
      'MIGRATION_PENDING',
      `the database schema is at version ${state.current}, this relay needs ${state.latest}: run \`roo-sync db migrate\` (or start without --no-migrate / NO_MIGRATE)`,
      { current: state.current, latest: state.latest, pending },
    );
  }
}

/**
 * An HTTP socket sent and received nothing for `idleMs`: a request still waiting for its body
 * gets 408 HTTP_IDLE_TIMEOUT (then the socket closes); anything else (no request, an answer
 * already under way, the relay itself still working) just loses the socket. The route handler
 * sees its request end and its answer already sent, and stops.
 */
function endIdleExchange(socket: Socket, exchange: { req: IncomingMessage; res: ServerResponse } | undefined, idleMs: number, logger: Logger): void {
  if (!exchange || exchange.req.complete || exchange.res.headersSent) {
    socket.destroy();
    return;
  }
  const { req, res } = exchange;
  logger.debug('http request idle; answering 408', { method: req.method, idleMs });
  sendError(res, new SyncError('HTTP_IDLE_TIMEOUT', `no bytes received or sent for ${idleMs} ms: request ended`), { connection: 'close' });
  res.once('finish', () => socket.destroy());
}

function startingError(): SyncError {
  return new SyncError('RELAY_STARTING', 'the relay is starting (opening and migrating its database): retry shortly');
}

/** Closes a listening server and every connection it holds; resolves also when it was closed already. */
function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void =>
      reject(new SyncError('SERVER_LISTEN_FAILED', `cannot listen on ${host}:${port} (${err.code ?? err.message})`, { host, port }));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** A low-cardinality label for a statement: its first keyword. */
function queryOp(sql: string): string {
  const word = /^\s*(\w+)/.exec(sql)?.[1]?.toLowerCase() ?? 'other';
  return ['select', 'insert', 'update', 'delete', 'with', 'begin', 'commit', 'rollback'].includes(word) ? word : 'other';
}
