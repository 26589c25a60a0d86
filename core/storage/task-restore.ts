/**
 * Bringing back a synced task whose folder is gone from the store (deleted by hand, a wiped
 * store, a restored backup that predates it). An absence is never a deletion (DESIGN.md): the
 * task is rebuilt from what the sync state says was synced, the entries' content coming from the
 * entry cache or, failing that, the relay, and written back in the assistant's format.
 *
 * Partial restores are written only when every entry left out is another device's ui entry: an
 * entry of this device's own missing from the end would read, at the next detection, like its
 * user's "delete from here" and send a truncate, and an api entry left out would shift every
 * later one to another key (api keys are positions). Otherwise nothing is written and the
 * missing entries are reported (the next detection tries again).
 */
import { STREAM_NAMES, type EntryKey, type StreamName } from '../model/changes';
import type { TaskSnapshot } from '../ports/task-store';
import { sortEntries } from '../merge/stream-merge';
import { loadSyncedEntries } from './entry-cache';
import type { TaskSyncState } from './sync-state';
import type { SyncContext } from './sync-context';
import { buildHistoryItem } from './task-apply';

export interface TaskRestore {
  /** The task to write, or null when nothing can be written safely (or nothing was synced). */
  snapshot: TaskSnapshot | null;
  /** Synced entries neither the entry cache nor the relay holds. */
  unrestorable: Array<{ stream: StreamName; key: EntryKey; hash: string }>;
}

/** True when the sync state knows anything of the task worth writing back. */
export function hasSyncedContent(task: TaskSyncState): boolean {
  if (task.deleted !== null) return false;
  return Object.keys(task.fields).length > 0 || STREAM_NAMES.some((s) => task.streams[s].size > 0);
}

/** Rebuilds a task that is missing from its store from its sync state (see the module doc). */
export async function restoreMissingTask(ctx: SyncContext, task: TaskSyncState): Promise<TaskRestore> {
  const result: TaskRestore = { snapshot: null, unrestorable: [] };
  if (!hasSyncedContent(task)) return result;
  const streams = {} as Record<StreamName, unknown[]>;
  let unsafe = false;
  for (const stream of STREAM_NAMES) {
    const tracked = [...task.streams[stream].values()];
    const { found, missing } = await loadSyncedEntries(
      ctx.entryCache,
      ctx.remoteEntries,
      { source: task.source, taskId: task.taskId, stream },
      tracked.map((t) => ({ key: t.key, hash: t.hash })),
    );
    for (const key of missing) {
      result.unrestorable.push({ stream, key, hash: task.streams[stream].get(key)!.hash });
      // api keys are positions: leaving one out would move every later entry to another key.
      if (stream === 'api' || task.streams[stream].get(key)?.own) unsafe = true;
    }
    const entries = tracked.filter((t) => found.has(t.key)).map((t) => ({ key: t.key, hash: t.hash, entry: found.get(t.key) }));
    streams[stream] = sortEntries(entries).map((e) => e.entry);
  }
  // A task waits for its metadata before it is written (as task-apply does): never an invented HistoryItem.
  const historyItem = buildHistoryItem(null, task);
  if (unsafe || historyItem === null) return result;
  // Written only where the files are still absent (the assistant may create the task meanwhile).
  result.snapshot = { source: task.source, taskId: task.taskId, ui: streams.ui, api: streams.api, historyItem, read: { ui: null, api: null } };
  return result;
}
