/**
 * Pulled changes of a task whose files cannot be read wait for it, and only it: the rest of the
 * page is applied and the cursor moves on, so one corrupt `ui_messages.json` no longer stops a
 * device from receiving every other task's changes.
 *
 * While a task waits, neither its sync state nor its files change: its changes are kept, in seq
 * order, in `SyncState.waiting` (saved through the store's append-only waiting log, so a long
 * list costs its size once). Every page applied after
 * that (a pull, live changes, a crash replay, or a detection of that task) tries the waiting
 * tasks again; once one reads, its kept changes and the page's are applied together, through
 * the same steps as any pulled page (adopt, detect what they overwrite, apply). So the result is
 * the one a device gets that pulled those changes late: a local edit made in the meantime is
 * detected against the state as it was synced, and a concurrent version keeps its conflict copy.
 *
 * Crash safety: the kept changes are appended to the waiting log before the header that moves
 * the cursor past them is saved, and a header saved without the task drops them. A page pulled
 * again after a crash adds nothing twice (by seq).
 */
import { isSyncError } from '../errors';
import type { ServerChange } from '../model/changes';
import type { TaskId } from '../ids';
import type { TaskSnapshot, TaskStore } from '../ports/task-store';
import { uiTimestamp } from '../tracking/stream-keys';
import { taskOfStateKey, taskStateKey, type SyncState, type TaskSyncState, type UnreadableReason } from './sync-state';
import { catchingUp } from './task-adopt';

/** Errors that mean the task's files cannot be read as they are now (not a transient state of the store). */
const UNREADABLE_CODES = new Set(['STORE_CORRUPT_JSON', 'STORE_IO', 'STORE_HISTORY_ITEM_MISMATCH', 'STREAM_ENTRY_INVALID']);

/** The reason `err` gives when it says a task's files cannot be read, else null (rethrow it). */
export function unreadableReason(err: unknown): UnreadableReason | null {
  if (!isSyncError(err) || !UNREADABLE_CODES.has(err.code)) return null;
  const details = err.details ?? {};
  return {
    code: err.code,
    ...(typeof details['path'] === 'string' ? { path: details['path'] } : {}),
    ...(typeof details['reason'] === 'string' ? { reason: details['reason'] } : {}),
  };
}

/**
 * Throws STREAM_ENTRY_INVALID when a ui entry of `snapshot` cannot be keyed, before anything
 * that changes the sync state keys the task (adopt, detect, apply would throw halfway).
 */
export function checkKeyable(snapshot: TaskSnapshot): void {
  if (snapshot.keyed?.ui?.length === snapshot.ui.length) return;
  snapshot.ui.forEach((entry, index) => uiTimestamp(entry, index));
}

/**
 * Reads a task to apply pulled changes to it: its snapshot (null: no task folder), or why its
 * files cannot be read (then the changes wait). Any other failure is thrown.
 */
export async function readForApply(store: TaskStore, taskId: TaskId): Promise<{ snapshot: TaskSnapshot | null } | { unreadable: UnreadableReason }> {
  try {
    const snapshot = await store.readTask(taskId);
    if (snapshot) checkKeyable(snapshot);
    return { snapshot };
  } catch (err) {
    const why = unreadableReason(err);
    if (!why) throw err;
    return { unreadable: why };
  }
}

/** `changes` (one task's) together with what already waits for that task: once each, in seq order. */
export function withDeferred(state: SyncState, key: string, changes: readonly ServerChange[]): ServerChange[] {
  const waiting = state.waiting.get(key);
  if (!waiting) return [...changes];
  const bySeq = new Map<number, ServerChange>();
  for (const change of [...waiting.changes, ...changes]) bySeq.set(change.seq, change);
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

/** Whether changes wait for the task. */
export function isWaiting(state: SyncState, task: TaskSyncState): boolean {
  return state.waiting.has(taskStateKey(task.source, task.taskId));
}

/**
 * Keeps `changes` (the task's, waiting ones included) to apply once its files read again.
 * Returns false when nothing changed (tried again, still unreadable for the same reason).
 */
export function deferChanges(state: SyncState, task: TaskSyncState, changes: readonly ServerChange[], why: UnreadableReason, deviceId: string): boolean {
  const key = taskStateKey(task.source, task.taskId);
  const before = state.waiting.get(key);
  const merged = withDeferred(state, key, changes);
  const deferred = catchingUp(state, task) ? merged : withoutReplacedPuts(merged, task, deviceId);
  const same = before !== undefined && deferred.length === before.changes.length && deferred.every((c, i) => c.seq === before.changes[i]!.seq);
  if (same && sameReason(before.why, why)) return false;
  state.setWaiting(key, { changes: deferred, why });
  return true;
}

/**
 * `changes` (in seq order) without the puts a later waiting put of the same entry replaces, so
 * a task that waits while another device streams a message into it keeps one version of each
 * message in memory and applies it once, not every version. Applying the rest gives
 * the same task and state, so it keeps: every put of this device's own (coming back, they
 * acknowledge it), every put of an entry this device tracks as its own (a put there may displace
 * it into a conflict copy, which depends on each version's base), and every put before a
 * truncate of its stream. Not while the task catches up: task-adopt matches a copy against
 * every version.
 */
function withoutReplacedPuts(changes: readonly ServerChange[], task: TaskSyncState, deviceId: string): ServerChange[] {
  const replaced = new Set<number>();
  const putLater = new Set<string>();
  for (let i = changes.length - 1; i >= 0; i--) {
    const { body, entity, deviceId: by } = changes[i]!;
    if (body.type === 'stream.truncate') {
      for (const later of [...putLater]) if (later.startsWith(`${entity}/`)) putLater.delete(later);
      continue;
    }
    if (body.type !== 'stream.put') continue;
    if (putLater.has(entity) && by !== deviceId && !task.streams[body.stream].get(body.key)?.own) replaced.add(i);
    putLater.add(entity);
  }
  return replaced.size === 0 ? [...changes] : changes.filter((_, i) => !replaced.has(i));
}

function sameReason(a: UnreadableReason, b: UnreadableReason): boolean {
  return a.code === b.code && a.path === b.path && a.reason === b.reason;
}

/** The task's waiting changes were applied: nothing waits for it now. */
export function clearDeferred(state: SyncState, task: TaskSyncState): void {
  state.clearWaiting(taskStateKey(task.source, task.taskId));
}

/** A task whose pulled changes wait, as reports show it. */
export interface WaitingTask extends UnreadableReason {
  source: TaskSyncState['source'];
  taskId: string;
  /** Changes waiting. */
  changes: number;
}

/** Every task whose pulled changes wait until its files can be read. */
export function waitingTasks(state: SyncState): WaitingTask[] {
  return [...state.waiting].map(([key, { changes, why }]) => ({ ...taskOfStateKey(key), changes: changes.length, ...why }));
}
