/**
 * Keeps the read model (conversations, messages, message_changes, workspaces, file_sync_state,
 * file_changes) up to date with the change log, off the push path.
 *
 * - A committed push marks its user dirty (`markDirty`, synchronous and cheap: the relay calls
 *   it from the sync endpoint's `onCommitted`); one worker per relay process then projects
 *   dirty users a batch at a time: up to `usersPerBatch` users in one transaction
 *   (project-batch.ts `projectUsers`: at most `batchSize` rows per user and `rowsPerBatch` in
 *   all), round-robin, so a user with a long backlog does not hold the others up, and the
 *   round trips of a transaction are paid once for all the users it projects. A user whose
 *   batch failed is retried alone.
 * - A user whose cursor row another relay process holds is retried shortly after; a failed
 *   batch is retried with backoff (up to 30 s) and counted in `projection_errors_total`.
 * - A sweep at `start()` and every `sweepIntervalMs` marks every user whose cursor lags the
 *   log, so a crash, a push handled by a relay with projections off or a lost retry never
 *   leaves a user stale for long.
 * - A batch that would not be full first waits `settleMs`, so the users marked meanwhile join
 *   it (steady pushes then cost one projection transaction per few users instead of one each);
 *   and while `busy()` says pushes are waiting for a commit (a burst), the batch waits on, up to
 *   `maxDeferMs` in all: projection shares PostgreSQL with the pushes and is the one that can
 *   wait. A user marked dirty stays dirty until projected: waiting never loses work. Neither wait
 *   applies while a user's last batch left rows behind (`backlogged`: the projection is more than a
 *   batch behind, as during a migration's stream of pushes): waiting then would only let the lag
 *   grow, and the read model that backfill and the web page read would fall minutes behind.
 * - `close()` stops the timers and waits for the batch in flight. Idempotent.
 */
import type { Database } from '../db/database';
import type { Logger } from '../observability/logger';
import type { RelayMetrics } from '../observability/metrics';
import { DEFAULT_PROJECTION_BATCH, DEFAULT_PROJECTION_TOTAL, projectUsers, type BatchOutcome } from './project-batch';

export const DEFAULT_SWEEP_INTERVAL_MS = 30_000;
/** Most dirty users one transaction projects. */
export const DEFAULT_USERS_PER_BATCH = 64;
const MAX_BACKOFF_MS = 30_000;
/** Default wait before a batch that is not full, ms. */
export const DEFAULT_SETTLE_MS = 50;
/** Default longest wait before a batch (settling plus giving way to pushes), ms. */
export const DEFAULT_MAX_DEFER_MS = 1_000;
/** How often a batch giving way to pushes looks again, ms. */
const BUSY_POLL_MS = 10;
/** Most users one sweep marks (the rest are found by the next sweep). */
const SWEEP_LIMIT = 10_000;

export interface ProjectorOptions {
  db: Database;
  logger?: Logger;
  metrics?: RelayMetrics;
  /** Most log rows per user per transaction. Default 500. */
  batchSize?: number;
  /** Most dirty users projected in one transaction. Default 64. */
  usersPerBatch?: number;
  /** Most log rows per transaction over all its users (never below `batchSize`). Default 2000. */
  rowsPerBatch?: number;
  /** How often to look for users whose cursor lags, ms; 0: only at start. Default 30 s. */
  sweepIntervalMs?: number;
  /** First retry delay for a locked or failed user, ms. Default 100. */
  retryMs?: number;
  /** Wait before a batch that would not be full, so more users join it, ms; 0: none. Default 50. */
  settleMs?: number;
  /** True while projection should give way (the relay: pushes are waiting for a commit). */
  busy?: () => boolean;
  /** Longest wait before a batch, settling and giving way together, ms. Default 1,000. */
  maxDeferMs?: number;
}

/** What one batch did, for listeners (tests, benches). */
export interface BatchEvent {
  userId: string;
  outcome: BatchOutcome;
}

export class Projector {
  private readonly db: Database;
  private readonly logger: Logger | undefined;
  private readonly metrics: RelayMetrics | undefined;
  private readonly batchSize: number;
  private readonly usersPerBatch: number;
  private readonly rowsPerBatch: number;
  private readonly sweepIntervalMs: number;
  private readonly retryMs: number;
  private readonly settleMs: number;
  private readonly maxDeferMs: number;
  private readonly busy: (() => boolean) | undefined;
  /** Ends the current wait before a batch early (close). */
  private wake: (() => void) | undefined;
  private readonly dirty = new Set<string>();
  /** Users whose last batch left rows behind (BatchOutcome.more). */
  private readonly backlogged = new Set<string>();
  private readonly retries = new Map<string, { timer: NodeJS.Timeout; attempts: number }>();
  private readonly failures = new Map<string, number>();
  private readonly listeners = new Set<(event: BatchEvent) => void>();
  private worker: Promise<void> | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  private unbindLag: (() => void) | undefined;

  constructor(options: ProjectorOptions) {
    this.db = options.db;
    this.logger = options.logger;
    this.metrics = options.metrics;
    this.batchSize = options.batchSize ?? DEFAULT_PROJECTION_BATCH;
    this.usersPerBatch = Math.max(1, options.usersPerBatch ?? DEFAULT_USERS_PER_BATCH);
    this.rowsPerBatch = Math.max(this.batchSize, options.rowsPerBatch ?? DEFAULT_PROJECTION_TOTAL);
    this.sweepIntervalMs = options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
    this.retryMs = options.retryMs ?? 100;
    this.settleMs = Math.max(0, options.settleMs ?? DEFAULT_SETTLE_MS);
    this.maxDeferMs = Math.max(0, options.maxDeferMs ?? DEFAULT_MAX_DEFER_MS);
    this.busy = options.busy;
  }

  /** Binds the lag gauge, runs a first sweep and starts the periodic one. */
  start(): this {
    if (this.closed) return this;
    this.unbindLag = this.metrics?.bindProjectionLag(() => projectionLag(this.db));
    this.runSweep();
    if (this.sweepIntervalMs > 0) {
      this.sweepTimer = setInterval(() => this.runSweep(), this.sweepIntervalMs);
      this.sweepTimer.unref();
    }
    return this;
  }

  /** Schedules `userId` for projection. Never throws, never waits. */
  markDirty(userId: string): void {
    if (this.closed) return;
    this.dirty.add(userId);
    this.worker ??= this.drain().finally(() => {
      this.worker = undefined;
      if (this.dirty.size > 0 && !this.closed) this.markDirty(this.dirty.values().next().value!);
    });
  }

  /** Calls `listener` after every batch. Returns its remover. */
  onBatch(listener: (event: BatchEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Marks every user whose cursor lags the log; resolves with how many. */
  async sweep(): Promise<number> {
    const { rows } = await this.db.query<{ user_id: string }>(
      `SELECT h.user_id FROM sync_log_heads h LEFT JOIN read_model_cursors c ON c.user_id = h.user_id
        WHERE h.seq > coalesce(c.seq, 0) LIMIT ${SWEEP_LIMIT}`,
    );
    for (const row of rows) this.markDirty(row.user_id);
    return rows.length;
  }

  /** Resolves once no user is dirty or waiting for a retry and no batch runs (tests, benches). */
  async idle(): Promise<void> {
    while (!this.closed && (this.worker || this.sweeping || this.dirty.size > 0 || this.retries.size > 0)) {
      if (this.worker) await this.worker;
      else if (this.sweeping) await this.sweeping;
      else await new Promise<void>((resolve) => {
        const remove = this.onBatch(() => { remove(); resolve(); });
      });
    }
  }

  /** Stops the sweep and retries and waits for the batch in flight. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      this.wake?.();
      if (this.sweepTimer) clearInterval(this.sweepTimer);
      for (const { timer } of this.retries.values()) clearTimeout(timer);
      this.retries.clear();
      this.dirty.clear();
      this.backlogged.clear();
      this.unbindLag?.();
      await this.sweeping;
      await this.worker;
      this.listeners.clear();
    })();
    return this.closing;
  }

  private runSweep(): void {
    if (this.closed || this.sweeping) return;
    this.sweeping = this.sweep()
      .then(() => undefined, (err: unknown) => {
        if (!this.closed) this.logger?.warn('projection sweep failed', { err });
      })
      .finally(() => { this.sweeping = undefined; });
  }

  private async drain(): Promise<void> {
    while (!this.closed && this.dirty.size > 0) {
      const wait = this.beforeBatch();
      if (wait) await wait;
      if (this.closed || this.dirty.size === 0) break;
      const users = this.nextBatch();
      const started = process.hrtime.bigint();
      let outcomes: Map<string, BatchOutcome>;
      try {
        outcomes = await projectUsers(this.db, users, { limit: this.batchSize, totalLimit: this.rowsPerBatch });
      } catch (err) {
        this.metrics?.projectionErrors.inc();
        for (const userId of users) {
          this.backlogged.delete(userId); // retried on its own later: no reason to stop giving way meanwhile
          const attempts = (this.failures.get(userId) ?? 0) + 1;
          this.failures.set(userId, attempts);
          if (!this.closed) this.logger?.warn('projection batch failed; retrying', { userId, attempts, err });
          this.retryLater(userId, attempts);
        }
        continue;
      }
      for (const userId of users) this.failures.delete(userId);
      this.metrics?.projectionBatchDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
      for (const [userId, outcome] of outcomes) {
        if (outcome.status === 'locked') {
          this.backlogged.delete(userId); // another process projects it now
          this.retryLater(userId, 1);
        } else if (outcome.status === 'rebuilt') {
          this.metrics?.projectionRebuilds.inc();
          this.logger?.info('read model rebuilt: compaction passed the projection cursor', { userId });
          this.dirty.add(userId);
        } else {
          for (const [type, n] of Object.entries(outcome.counts)) this.metrics?.projectionRows.inc({ type }, n);
          if (outcome.skipped > 0) this.logger?.warn('projection skipped changes it cannot store', { userId, skipped: outcome.skipped });
          if (outcome.more) {
            this.dirty.add(userId); // to the back of the queue
            this.backlogged.add(userId);
          } else {
            this.backlogged.delete(userId);
          }
        }
      }
      for (const [userId, outcome] of outcomes) for (const listener of this.listeners) listener({ userId, outcome });
    }
  }

  /**
   * Waits before a batch: `settleMs` when it would not be full, then while `busy()`, up to
   * `maxDeferMs` in all (close ends the wait); not at all while a user is backlogged.
   */
  private beforeBatch(): Promise<void> | undefined {
    if (this.backlogged.size > 0) return undefined;
    const settle = this.settleMs > 0 && this.dirty.size < this.usersPerBatch;
    // Nothing to wait for: the batch starts in this very tick.
    return settle || this.busy?.() ? this.waitBeforeBatch(settle) : undefined;
  }

  private async waitBeforeBatch(settle: boolean): Promise<void> {
    const deadline = Date.now() + this.maxDeferMs;
    if (settle) await this.pause(Math.min(this.settleMs, this.maxDeferMs));
    while (!this.closed && this.busy?.() && Date.now() < deadline) await this.pause(Math.min(BUSY_POLL_MS, deadline - Date.now()));
  }

  private pause(ms: number): Promise<void> {
    if (this.closed || ms <= 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.wake = done;
    });
  }

  /**
   * Takes the next users to project together, in queue order: up to `usersPerBatch` of them. A
   * user whose last batch failed is projected alone, so one user whose rows make the transaction
   * fail cannot hold back the users it was batched with.
   */
  private nextBatch(): string[] {
    const users: string[] = [];
    for (const userId of this.dirty) {
      const failed = this.failures.has(userId);
      if (failed && users.length > 0) continue;
      users.push(userId);
      if (failed || users.length >= this.usersPerBatch) break;
    }
    for (const userId of users) this.dirty.delete(userId);
    return users;
  }

  private retryLater(userId: string, attempts: number): void {
    if (this.closed || this.retries.has(userId)) return;
    const delay = Math.min(this.retryMs * 2 ** (attempts - 1), MAX_BACKOFF_MS);
    const timer = setTimeout(() => {
      this.retries.delete(userId);
      this.markDirty(userId);
    }, delay);
    timer.unref();
    this.retries.set(userId, { timer, attempts });
  }
}

/** Log changes not yet projected, over all users (the lag gauge). */
export async function projectionLag(db: Database): Promise<number> {
  const { rows } = await db.query<{ lag: number | string | null }>(
    `SELECT sum(h.seq - coalesce(c.seq, 0)) AS lag FROM sync_log_heads h
       LEFT JOIN read_model_cursors c ON c.user_id = h.user_id WHERE h.seq > coalesce(c.seq, 0)`,
  );
  return Number(rows[0]?.lag ?? 0);
}
