/**
 * Group commit of pushes for one relay process: the pushes of every connection that arrive
 * while a commit is in flight wait and then go to the database together, as one call of
 * `appendPushes` (one statement, one transaction, one WAL flush). A burst of pushes from many
 * devices then costs a few commits instead of one each.
 *
 * - Durability is unchanged: `commit` resolves only after the statement holding the push has
 *   committed (a lone statement is its own transaction), so the device is answered after
 *   its changes are durable.
 * - At most one entry per user in a call (a user's second push waits for the next one), and no
 *   user in two calls at once: the appends of one user keep their order and one call never
 *   waits on another's row lock. Across relay processes the function locks users in id order.
 * - A malformed push is refused (CHANGE_INVALID) before it joins a call. A call that fails for
 *   another reason than the database being unavailable, timing out or closed is retried one
 *   entry at a time, so the error reaches only the push that caused it.
 * - At most `maxInFlight` calls run at once (each on its own pooled connection).
 */
import { isSyncError } from '../../core/errors';
import type { DeviceId, UserId } from '../../core/ids';
import type { ClientChange } from '../../core/model/changes';
import { appendPushes, checkChanges, type AppendResult, type PushEntry } from '../db/change-log';
import type { Queryable } from '../db/database';
import { DbErrorCode } from '../db/db-errors';

/** Failures of the database itself, not of a push: every push of the call gets them. */
const SHARED_FAILURES = new Set<string>([DbErrorCode.UNAVAILABLE, DbErrorCode.TIMEOUT, DbErrorCode.CLOSED]);

export interface PushCommitterOptions {
  /** Calls running at once. Default 2: one commits while the next one gathers. */
  maxInFlight?: number;
  /** Most changes in one call (an entry larger than this goes alone). Default 4000. */
  maxChanges?: number;
  /** Told after every call that committed (metrics: pushes per commit). */
  onCommitted?(pushes: number, changes: number): void;
}

interface Waiting {
  entry: PushEntry;
  resolve(result: AppendResult): void;
  reject(error: unknown): void;
}

export class PushCommitter {
  private readonly maxInFlight: number;
  private readonly maxChanges: number;
  private readonly onCommitted?: (pushes: number, changes: number) => void;
  private queue: Waiting[] = [];
  /** Users with an entry in a call now. */
  private readonly busy = new Set<string>();
  private inFlight = 0;

  constructor(
    private readonly db: Queryable,
    options: PushCommitterOptions = {},
  ) {
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 2);
    this.maxChanges = Math.max(1, options.maxChanges ?? 4000);
    this.onCommitted = options.onCommitted;
  }

  /** Stores one push; resolves once it is committed, with what `appendChanges` returns for it. */
  commit(userId: UserId, deviceId: DeviceId, changes: readonly ClientChange[]): Promise<AppendResult> {
    try {
      checkChanges(changes);
    } catch (error) {
      return Promise.reject(error);
    }
    if (changes.length === 0) return Promise.resolve({ accepted: [], conflicts: [], stored: [] });
    return new Promise<AppendResult>((resolve, reject) => {
      this.queue.push({ entry: { userId, deviceId, changes }, resolve, reject });
      this.pump();
    });
  }

  /** Pushes waiting for a call (metrics, tests). */
  get waiting(): number {
    return this.queue.length;
  }

  /** Starts calls while there is room and a waiting push whose user is not in a call. */
  private pump(): void {
    while (this.inFlight < this.maxInFlight) {
      const batch = this.takeBatch();
      if (batch.length === 0) return;
      this.inFlight++;
      void this.run(batch).finally(() => {
        for (const waiting of batch) this.busy.delete(waiting.entry.userId);
        this.inFlight--;
        this.pump();
      });
    }
  }

  /** Waiting pushes in arrival order, one per user, none of a busy user, up to maxChanges. */
  private takeBatch(): Waiting[] {
    const batch: Waiting[] = [];
    const rest: Waiting[] = [];
    let changes = 0;
    for (const waiting of this.queue) {
      const size = waiting.entry.changes.length;
      const full = batch.length > 0 && changes + size > this.maxChanges;
      if (full || this.busy.has(waiting.entry.userId)) {
        rest.push(waiting);
        continue;
      }
      this.busy.add(waiting.entry.userId);
      batch.push(waiting);
      changes += size;
    }
    this.queue = rest;
    return batch;
  }

  private async run(batch: Waiting[]): Promise<void> {
    try {
      const results = await appendPushes(this.db, batch.map((w) => w.entry));
      this.onCommitted?.(batch.length, batch.reduce((n, w) => n + w.entry.changes.length, 0));
      batch.forEach((waiting, i) => waiting.resolve(results[i]!));
      return;
    } catch (error) {
      if (batch.length === 1 || (isSyncError(error) && SHARED_FAILURES.has(error.code))) {
        for (const waiting of batch) waiting.reject(error);
        return;
      }
    }
    // One of the pushes (or the database) failed the call: each push on its own now, so the
    // error goes to the one that caused it.
    for (const waiting of batch) {
      try {
        const [result] = await appendPushes(this.db, [waiting.entry]);
        this.onCommitted?.(1, waiting.entry.changes.length);
        waiting.resolve(result!);
      } catch (error) {
        waiting.reject(error);
      }
    }
  }
}
