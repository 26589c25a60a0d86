/**
 * Waits until the relay's read model covers every change the user had pushed when the wait
 * began: `GET /v1/read-model`'s `projectedSeq` reaches the `logSeq` read first. The read model
 * (what backfill and the web page read) follows the change log asynchronously; right after a
 * large migration it can still be applying it, and a reader that started at once would find
 * tasks missing or short. Gives up with READ_MODEL_BEHIND when the read model stops moving for
 * `stallMs` (a relay whose projector is stuck); returns early, `aborted`, when `signal` fires.
 * A relay older than the route (404 ROUTE_NOT_FOUND) gives nothing to wait for: the reader goes
 * on as it did before the route existed.
 */
import { SyncError, isSyncError } from '../errors';
import type { ReadModelPosition } from './task-read-client';

export interface ReadModelWaitOptions {
  signal?: AbortSignal;
  /** Between two reads, ms. Default 250. */
  pollMs?: number;
  /** Longest time without progress, ms. Default 60 s. */
  stallMs?: number;
  /** Called after each read that finds the read model behind, with how many changes it lacks. */
  onBehind?: (changes: number) => void;
  now?: () => number;
}

export interface ReadModelWaitResult {
  /** Changes the read model lacked at the first read (0: nothing to wait for). */
  behindAtStart: number;
  waitedMs: number;
  /** `signal` fired before the read model caught up. */
  aborted: boolean;
}

export async function waitForReadModel(relay: { readModel(): Promise<ReadModelPosition> }, options: ReadModelWaitOptions = {}): Promise<ReadModelWaitResult> {
  const now = options.now ?? Date.now;
  const pollMs = options.pollMs ?? 250;
  const stallMs = options.stallMs ?? 60_000;
  const started = now();
  let first: ReadModelPosition;
  try {
    first = await relay.readModel();
  } catch (error) {
    if (isSyncError(error, 'ROUTE_NOT_FOUND')) return { behindAtStart: 0, waitedMs: now() - started, aborted: false };
    throw error;
  }
  const target = first.logSeq;
  let projected = first.projectedSeq;
  let movedAt = started;
  const result = (aborted: boolean): ReadModelWaitResult => ({ behindAtStart: Math.max(0, target - first.projectedSeq), waitedMs: now() - started, aborted });
  while (projected < target) {
    if (options.signal?.aborted) return result(true);
    options.onBehind?.(target - projected);
    if (now() - movedAt >= stallMs) {
      throw new SyncError('READ_MODEL_BEHIND', `the relay's read model has not moved for ${Math.round(stallMs / 1000)} s (${target - projected} change(s) behind); try again later`, { logSeq: target, projectedSeq: projected });
    }
    await pause(pollMs, options.signal);
    const position = await relay.readModel();
    if (position.projectedSeq > projected) movedAt = now();
    projected = position.projectedSeq;
  }
  return result(false);
}

/** Resolves after `ms`, or at once when `signal` fires. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
