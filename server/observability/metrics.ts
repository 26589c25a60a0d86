/**
 * The relay's Prometheus metrics. One `RelayMetrics` (and one prom-client Registry) per relay
 * instance, never the global default registry, so tests and embedders can run several relays
 * in one process. `render()` produces the /metrics body.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CacheStats } from '../cache/cached-query';

/** Connection counts of a database pool, read at scrape time. */
export interface DbPoolStats {
  /** Connections open (idle + in use). */
  total: number;
  idle: number;
  /** Callers queued for a connection. */
  waiting: number;
}

export interface RelayMetricsOptions {
  /** Prepended to every metric name. Default `roo_sync_`. */
  prefix?: string;
  /** Also collect Node process metrics (CPU, memory, event loop) into this registry. Default false. */
  processMetrics?: boolean;
  /** Labels added to every series (for example `{ instance: 'relay-1' }`). */
  defaultLabels?: Readonly<Record<string, string>>;
}

export type Direction = 'in' | 'out';
/** Pull-based value read at scrape time; returns undefined when it has nothing to say. */
type Probe<T> = () => T | undefined | Promise<T | undefined>;

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const QUERY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export class RelayMetrics {
  readonly registry: Registry;

  /** WebSocket connections open now. */
  readonly wsConnections: Gauge;
  /** WebSocket connections accepted since start. */
  readonly wsConnectionsOpened: Counter;
  /** WebSocket closes by close code (see core/protocol/close-codes.ts). */
  readonly wsCloses: Counter<'code'>;
  /** Frames by direction. */
  readonly frames: Counter<'direction'>;
  /** Frame bytes by direction; `encoding` raw = JSON body size, compressed = bytes on the wire. */
  readonly frameBytes: Counter<'direction' | 'encoding'>;
  /** Frames and bytes recorded since the counters were last read. */
  private readonly frameTally = { in: { frames: 0, raw: 0, wire: 0 }, out: { frames: 0, raw: 0, wire: 0 } };
  /** Seconds from a change being accepted to it being sent to another device. */
  readonly syncLatency: Histogram;
  /** Database statement duration by operation name (keep names few: select, insert, ...). */
  readonly queryDuration: Histogram<'op'>;
  /** Statements slower than the configured slow-query threshold. */
  readonly slowQueries: Counter<'op'>;
  readonly cacheHits: Counter<'cache'>;
  readonly cacheMisses: Counter<'cache'>;
  /** Cache backend failures (each is also counted as a miss). */
  readonly cacheErrors: Counter<'cache'>;
  /** 1 while Redis answers, 0 otherwise (also 0 when no Redis is configured; see redisConfigured). */
  readonly redisUp: Gauge;
  /** 1 when the relay runs with Redis, 0 with the in-process cache and pub/sub. */
  readonly redisConfigured: Gauge;
  /** Database pool connections by state (total, idle, waiting). */
  readonly dbPool: Gauge<'state'>;
  /** Remote commands queued and not yet delivered. */
  readonly commandQueueDepth: Gauge;
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route'>;
  /** Coded errors answered to peers, by SyncError code. */
  readonly errors: Counter<'code'>;
  /** Change-log rows applied to the read model (server/projections), by change type. */
  readonly projectionRows: Counter<'type'>;
  /** Log changes not yet in the read model, over all users (read at scrape time). */
  readonly projectionLag: Gauge;
  /** Projection batches that failed (each is retried). */
  readonly projectionErrors: Counter;
  /** Read models rebuilt from 0 because compaction passed their cursor. */
  readonly projectionRebuilds: Counter;
  /** Seconds per projection batch (one transaction). */
  readonly projectionBatchDuration: Histogram;
  /** Group-commit statements of pushes (server/sync/push-committer.ts), and the pushes and changes they carried. */
  readonly pushCommits: Counter;
  readonly pushCommitPushes: Counter;
  readonly pushCommitChanges: Counter;

  private redisProbe: Probe<boolean> | undefined;
  private poolProbe: Probe<DbPoolStats> | undefined;
  private queueProbe: Probe<number> | undefined;
  private projectionLagProbe: Probe<number> | undefined;

  constructor(options: RelayMetricsOptions = {}) {
    const p = options.prefix ?? 'roo_sync_';
    const registry = new Registry();
    this.registry = registry;
    if (options.defaultLabels) registry.setDefaultLabels({ ...options.defaultLabels });
    const registers = [registry];
    // prom-client calls collect() with the metric as `this`; capture the owner explicitly.
    const self = this;

    this.wsConnections = new Gauge({ name: `${p}ws_connections`, help: 'WebSocket connections open now.', registers });
    this.wsConnectionsOpened = new Counter({ name: `${p}ws_connections_opened_total`, help: 'WebSocket connections accepted.', registers });
    this.wsCloses = new Counter({ name: `${p}ws_closes_total`, help: 'WebSocket closes by close code.', labelNames: ['code'], registers });
    // Frames are tallied in plain numbers (a labelled inc per frame is a label hash each, on
    // every frame of every socket) and folded into the counters when they are read.
    this.frames = new Counter({ name: `${p}ws_frames_total`, help: 'WebSocket frames by direction.', labelNames: ['direction'], registers, collect: () => self.foldFrames() });
    this.frameBytes = new Counter({
      name: `${p}ws_bytes_total`, help: 'WebSocket frame bytes by direction; encoding raw is the JSON body, compressed the bytes on the wire.',
      labelNames: ['direction', 'encoding'], registers, collect: () => self.foldFrames(),
    });
    this.pushCommits = new Counter({ name: `${p}push_commits_total`, help: 'Statements (transactions) that committed pushes.', registers });
    this.pushCommitPushes = new Counter({ name: `${p}push_commit_pushes_total`, help: 'Pushes those statements committed (pushes per commit: this over push_commits_total).', registers });
    this.pushCommitChanges = new Counter({ name: `${p}push_commit_changes_total`, help: 'Changes in the pushes those statements committed.', registers });
    this.syncLatency = new Histogram({
      name: `${p}sync_latency_seconds`, help: 'Seconds from a change being accepted to it being sent to another device.',
      buckets: LATENCY_BUCKETS, registers,
    });
    this.queryDuration = new Histogram({
      name: `${p}db_query_duration_seconds`, help: 'Database statement duration by operation.',
      labelNames: ['op'], buckets: QUERY_BUCKETS, registers,
    });
    this.slowQueries = new Counter({ name: `${p}db_slow_queries_total`, help: 'Statements slower than the slow-query threshold.', labelNames: ['op'], registers });
    this.cacheHits = new Counter({ name: `${p}cache_hits_total`, help: 'Cache hits by cache name.', labelNames: ['cache'], registers });
    this.cacheMisses = new Counter({ name: `${p}cache_misses_total`, help: 'Cache misses by cache name (backend failures included).', labelNames: ['cache'], registers });
    this.cacheErrors = new Counter({ name: `${p}cache_errors_total`, help: 'Cache backend failures by cache name.', labelNames: ['cache'], registers });
    this.redisUp = new Gauge({
      name: `${p}redis_up`, help: '1 while Redis answers, 0 otherwise.', registers,
      async collect() {
        const up = await read(self.redisProbe);
        this.set(up ? 1 : 0);
      },
    });
    this.redisConfigured = new Gauge({
      name: `${p}redis_configured`, help: '1 when the relay runs with Redis, 0 with the in-process cache and pub/sub.', registers,
      collect() {
        this.set(self.redisProbe ? 1 : 0);
      },
    });
    this.dbPool = new Gauge({
      name: `${p}db_pool_connections`, help: 'Database pool connections by state.', labelNames: ['state'], registers,
      async collect() {
        const stats = await read(self.poolProbe);
        if (!stats) return;
        this.set({ state: 'total' }, stats.total);
        this.set({ state: 'idle' }, stats.idle);
        this.set({ state: 'waiting' }, stats.waiting);
      },
    });
    this.commandQueueDepth = new Gauge({
      name: `${p}command_queue_depth`, help: 'Remote commands not yet acknowledged by their target device (waiting, or sent and being re-sent).', registers,
      async collect() {
        const depth = await read(self.queueProbe);
        if (depth !== undefined) this.set(depth);
      },
    });
    this.httpRequests = new Counter({
      name: `${p}http_requests_total`, help: 'HTTP requests by method, route and status.', labelNames: ['method', 'route', 'status'], registers,
    });
    this.httpDuration = new Histogram({
      name: `${p}http_request_duration_seconds`, help: 'HTTP request duration by method and route.',
      labelNames: ['method', 'route'], buckets: LATENCY_BUCKETS, registers,
    });
    this.errors = new Counter({ name: `${p}errors_total`, help: 'Coded errors answered to peers, by code.', labelNames: ['code'], registers });
    this.projectionRows = new Counter({
      name: `${p}projection_rows_total`, help: 'Change-log rows applied to the read model, by change type.', labelNames: ['type'], registers,
    });
    this.projectionLag = new Gauge({
      name: `${p}projection_lag_changes`, help: 'Change-log changes not yet applied to the read model, over all users.', registers,
      async collect() {
        const lag = await read(self.projectionLagProbe);
        if (lag !== undefined) this.set(lag);
      },
    });
    this.projectionErrors = new Counter({ name: `${p}projection_errors_total`, help: 'Projection batches that failed (each is retried).', registers });
    this.projectionRebuilds = new Counter({
      name: `${p}projection_rebuilds_total`, help: 'Read models rebuilt from the log because compaction passed their cursor.', registers,
    });
    this.projectionBatchDuration = new Histogram({
      name: `${p}projection_batch_duration_seconds`, help: 'Seconds per projection batch (one transaction).', buckets: QUERY_BUCKETS, registers,
    });

    if (options.processMetrics) collectDefaultMetrics({ register: registry, prefix: p });
  }

  /** Reads Redis health at each scrape (for example `() => cache.healthy() && pubsub.healthy()`). Returns the remover. */
  bindRedisHealth(probe: Probe<boolean>): () => void {
    this.redisProbe = probe;
    return () => { if (this.redisProbe === probe) this.redisProbe = undefined; };
  }

  /** Reads database pool stats at each scrape. Returns the remover. */
  bindDbPool(probe: Probe<DbPoolStats>): () => void {
    this.poolProbe = probe;
    return () => { if (this.poolProbe === probe) this.poolProbe = undefined; };
  }

  /** Reads the command queue depth at each scrape (or call `commandQueueDepth.set()` yourself). Returns the remover. */
  bindCommandQueueDepth(probe: Probe<number>): () => void {
    this.queueProbe = probe;
    return () => { if (this.queueProbe === probe) this.queueProbe = undefined; };
  }

  /** Reads the projection lag at each scrape. Returns the remover. */
  bindProjectionLag(probe: Probe<number>): () => void {
    this.projectionLagProbe = probe;
    return () => { if (this.projectionLagProbe === probe) this.projectionLagProbe = undefined; };
  }

  /** Counts one frame and its bytes; `wireBytes` differs from `rawBytes` when the body was compressed. */
  recordFrame(direction: Direction, rawBytes: number, wireBytes: number = rawBytes): void {
    const tally = this.frameTally[direction];
    tally.frames++;
    tally.raw += rawBytes;
    tally.wire += wireBytes;
  }

  /** Moves the frames tallied since the last read into `frames` and `frameBytes`. */
  private foldFrames(): void {
    for (const direction of ['in', 'out'] as const) {
      const tally = this.frameTally[direction];
      if (tally.frames === 0) continue;
      this.frames.inc({ direction }, tally.frames);
      this.frameBytes.inc({ direction, encoding: 'raw' }, tally.raw);
      this.frameBytes.inc({ direction, encoding: 'compressed' }, tally.wire);
      tally.frames = tally.raw = tally.wire = 0;
    }
  }

  /** Records one database statement; `slow` when it passed the slow-query threshold. */
  /** One group-commit statement of `pushes` pushes holding `changes` changes. */
  recordPushCommit(pushes: number, changes: number): void {
    this.pushCommits.inc();
    this.pushCommitPushes.inc(pushes);
    this.pushCommitChanges.inc(changes);
  }

  recordQuery(op: string, seconds: number, slow = false): void {
    this.queryDuration.observe({ op }, seconds);
    if (slow) this.slowQueries.inc({ op });
  }

  /** Counts one closed WebSocket by its close code, and takes it off the open-connection gauge. */
  recordClose(code: number): void {
    this.wsCloses.inc({ code: String(code) });
    this.wsConnections.dec();
  }

  /** Counts one accepted WebSocket. */
  recordOpen(): void {
    this.wsConnectionsOpened.inc();
    this.wsConnections.inc();
  }

  /** Counts one finished HTTP request. `route` is the route pattern, never the raw path (cardinality). */
  recordHttp(method: string, route: string, status: number, seconds: number): void {
    this.httpRequests.inc({ method, route, status: String(status) });
    this.httpDuration.observe({ method, route }, seconds);
  }

  /** The sink CachedQuery reports hits, misses and errors to. */
  cacheStats(): CacheStats {
    return {
      hit: (cache) => this.cacheHits.inc({ cache }),
      miss: (cache) => this.cacheMisses.inc({ cache }),
      error: (cache) => this.cacheErrors.inc({ cache }),
    };
  }

  /** The /metrics body in Prometheus text format. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** The Content-Type header for `render()`'s output. */
  get contentType(): string {
    return this.registry.contentType;
  }
}

/** Reads a probe; a probe that throws has nothing to say (one broken hook must not fail the scrape). */
async function read<T>(probe: Probe<T> | undefined): Promise<T | undefined> {
  if (!probe) return undefined;
  try {
    return await probe();
  } catch {
    return undefined;
  }
}
