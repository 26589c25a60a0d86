/**
 * The push half of a sync: queued changes go to the relay in clientSeq order; every
 * acknowledgement is recorded in the sync state (base versions) before the outbox drops the
 * change, so a crash between the two replays the change and the relay acknowledges it again
 * (idempotent by (deviceId, clientSeq)). Conflicts are settled and the result queued again.
 */
import { DEFAULT_PUSH_WINDOW, pushWindowed } from '../client/push-window';
import { SyncError } from '../errors';
import type { ChangeBody, ClientChange, ServerChange } from '../model/changes';
import type { PushOutcome } from '../ports/sync-transport';
import type { ChangeConflict } from '../protocol/messages';
import { recordFileAck, resolveFileConflict } from './file-sync';
import { StorageErrorCode } from './storage-errors';
import type { EngineDeps } from './sync-context';
import { noteMetaAcked, noteTruncateAcked } from './sync-state';
import { applyTaskChanges, type PendingIndex } from './task-apply';
import { detectTaskChanges, type PlannedChange } from './task-detect';
import { deferChanges, readForApply } from './task-defer';

export interface PushReport {
  /** Changes the relay acknowledged. */
  accepted: number;
  /** Conflicts the relay returned (each settled and, when needed, queued again). */
  conflicts: number;
  /** Conflicts left for a later sync because the relay kept refusing. */
  unresolved: number;
}

const NO_PENDING: PendingIndex = { entities: new Set(), truncates: new Map() };

/**
 * Pushes the whole outbox in batches, up to `window` pushes awaiting their reply at once
 * (core/client/push-window.ts), replies settled in order. Throws STORAGE_SYNC_FAILED when the
 * transport fails (what was not acknowledged stays queued).
 */
export async function pushPending(deps: EngineDeps, batchSize: number, maxConflictRounds: number, window = DEFAULT_PUSH_WINDOW): Promise<PushReport> {
  const report: PushReport = { accepted: 0, conflicts: 0, unresolved: 0 };
  let conflictRounds = 0;
  const settle = async (batch: ClientChange[], outcome: PushOutcome): Promise<boolean> => {
    const byClientSeq = new Map(batch.map((c) => [c.clientSeq, c]));
    const recorded: number[] = [];
    for (const accepted of outcome.accepted) {
      const change = byClientSeq.get(accepted.clientSeq);
      if (change && recordAck(deps, change.body, accepted.seq)) recorded.push(accepted.seq);
    }
    report.accepted += outcome.accepted.length;
    deps.ctx.state.noteOwnSeqs(recorded);
    await deps.saveState();
    await deps.outbox.acknowledge(outcome.accepted.map((a) => a.clientSeq));
    if (outcome.conflicts.length > 0) {
      report.conflicts += outcome.conflicts.length;
      if (++conflictRounds > maxConflictRounds) {
        report.unresolved = outcome.conflicts.length;
        return false;
      }
      await resolveConflicts(deps, outcome.conflicts, byClientSeq);
      return true;
    }
    return outcome.accepted.length > 0; // nothing moved: do not spin
  };
  await pushWindowed({
    window,
    nextBatch: (inFlight) => {
      const batch: ClientChange[] = [];
      for (const change of deps.outbox.queued()) {
        if (batch.length >= batchSize) break;
        if (!inFlight.has(change.clientSeq)) batch.push(change);
      }
      return batch;
    },
    send: (batch) =>
      deps.transport.push(batch).catch((err: unknown) => {
        throw new SyncError(StorageErrorCode.SYNC_FAILED, 'push failed; the changes stay queued', undefined, { cause: err });
      }),
    settle,
  });
  return report;
}

/**
 * Records the relay's acceptance of one of this device's changes as its base version. Returns
 * true when that leaves nothing for the change to do here if it came back in a pull (its seq
 * may then be skipped, see SyncState.noteOwnSeqs): a put recorded as the entry's synced
 * version, or metadata acknowledged as the task's latest; truncates, tombstones and files are
 * always pulled back.
 */
export function recordAck(deps: EngineDeps, body: ChangeBody, seq: number): boolean {
  const state = deps.ctx.state;
  switch (body.type) {
    case 'stream.put': {
      const tracked = state.getTask(body.source, body.taskId)?.streams[body.stream].get(body.key);
      if (tracked && tracked.hash === body.hash && tracked.seq < seq) {
        tracked.seq = seq;
        tracked.own = true;
        delete tracked.base;
        state.markDirty(state.getTask(body.source, body.taskId)!);
        return true;
      }
      return false;
    }
    case 'task.meta':
    case 'task.delete': {
      const task = state.getTask(body.source, body.taskId);
      if (!task) return false;
      let changed = false;
      if (task.metaSeq < seq) {
        task.metaSeq = seq;
        changed = true;
      }
      if (noteMetaAcked(task, body, deps.ctx.deviceId)) changed = true;
      if (changed) state.markDirty(task);
      // Its fields were merged when it was detected; coming back it would only merge them again.
      return body.type === 'task.meta' && task.metaSeq === seq;
    }
    case 'file.put':
    case 'file.delete':
      recordFileAck(deps.ctx, body, seq);
      return false;
    case 'stream.truncate': {
      const task = state.getTask(body.source, body.taskId);
      if (task && noteTruncateAcked(task, body.stream, body.afterKey)) state.markDirty(task);
      return false;
    }
  }
}

/**
 * Settles conflicts the relay returned: `ours` maps clientSeq to the refused change (missing
 * ones are looked up in the outbox). Queues what has to be pushed again, drops the refused
 * changes, and saves the state.
 */
export async function resolveConflicts(
  deps: EngineDeps,
  conflicts: readonly ChangeConflict[],
  ours: ReadonlyMap<number, ClientChange> = new Map(),
): Promise<void> {
  const queued = new Map(deps.outbox.pending().map((c) => [c.clientSeq, c]));
  for (const conflict of conflicts) {
    const change = ours.get(conflict.clientSeq) ?? queued.get(conflict.clientSeq);
    if (!change) continue;
    const planned = await settle(deps, change, conflict.current);
    if (planned.length > 0) await deps.outbox.enqueue(planned);
    await deps.saveState();
    await deps.outbox.acknowledge([conflict.clientSeq]);
  }
}

async function settle(deps: EngineDeps, change: ClientChange, current: ServerChange): Promise<PlannedChange[]> {
  const body = change.body;
  switch (body.type) {
    case 'task.meta':
    case 'task.delete': {
      const store = deps.storeFor(body.source);
      if (!store) return [];
      const task = deps.ctx.state.task(body.source, body.taskId);
      const planned: PlannedChange[] = [];
      const read = await readForApply(store, body.taskId);
      if ('unreadable' in read) {
        // The task cannot be read: the current version waits for it with its pulled changes
        // (task-defer), which merge it into the files later, as a pull would.
        deferChanges(deps.ctx.state, task, [current], read.unreadable, deps.ctx.deviceId);
        if (current.body.type === 'task.delete' && body.type === 'task.meta') return [];
        return [{ body, baseSeq: current.seq }];
      }
      let snapshot = read.snapshot;
      if (snapshot) {
        // Catch edits made since the refused change, so writing the merge cannot lose them.
        const detected = await detectTaskChanges(deps.ctx, snapshot, task);
        planned.push(...detected.changes);
        snapshot = detected.rewrite ?? snapshot;
      }
      const applied = await applyTaskChanges(deps.ctx, snapshot, task, [current], NO_PENDING);
      if (applied.delete) await store.deleteTask(body.taskId);
      else if (applied.write) await store.writeTask(applied.write);
      if (current.body.type === 'task.delete' && body.type === 'task.meta') return planned; // the delete stands
      return [...planned, { body, baseSeq: current.seq }];
    }
    case 'file.put':
    case 'file.delete': {
      const files = deps.workspaceFor(body.workspaceId);
      if (!files) return [];
      return resolveFileConflict(deps.ctx, files, deps.resolver, change, current);
    }
    default:
      // Stream changes merge on the relay and never conflict.
      return [];
  }
}
