/**
 * Backfill: the user's tasks from the relay's read model written into a local task store in
 * its assistant's own format (FsTaskStore: atomic writes, the assistant's `.lock` folders,
 * history_item.json, the index), so they show in its history. A task the store has is merged
 * (mergeTaskCopies: union of messages, fields per field), never overwritten; tasks of another
 * assistant get their HistoryItem mapped (mapHistoryItem). Every change is announced in the
 * store's backfill journal first, so `rollbackBackfill` can undo exactly it.
 */
import type { TaskReadClient } from '../../client/task-read-client';
import { isSyncError } from '../../errors';
import type { TaskId } from '../../ids';
import { TASK_SOURCES, type TaskSource } from '../../model/changes';
import type { HistoryItem, TaskSnapshot } from '../../ports/task-store';
import { mapHistoryItem } from '../../stores/history-mapping';
import { isValidTaskId } from '../../stores/task-ids';
import { mergeTaskCopies } from '../../stores/task-merge';
import { unreadableOf, type UnreadableTask } from '../migrate/migration-plan';
import type { FsTaskStore } from '../stores/fs-task-store';
import { BackfillJournal, journalPathFor } from './backfill-journal';

export interface BackfillOptions {
  relay: TaskReadClient;
  target: FsTaskStore;
  /** Where the journals live (the CLI's data folder). */
  journalDir: string;
  /** Relay tasks of these assistants go in. Default: the target's own. */
  from?: readonly TaskSource[];
  /** Report what would change; write nothing. */
  dryRun?: boolean;
  signal?: AbortSignal;
  onProgress?: (event: { tasksDone: number; tasksTotal: number; bytesDone: number }) => void;
  now?: () => number;
}

export interface BackfillResult {
  /** Relay tasks considered. */
  tasks: number;
  created: number;
  merged: number;
  unchanged: number;
  /** Entries added, per stream. */
  added: { ui: number; api: number };
  /** Bytes of the tasks' messages fetched (JSON). */
  bytes: number;
  /** Tasks that could not be written or whose local copy could not be read. */
  failed: UnreadableTask[];
  dryRun: boolean;
  aborted: boolean;
  /** The journal `--rollback` reads, or null when nothing was written. */
  journal: string | null;
}

export async function runBackfill(options: BackfillOptions): Promise<BackfillResult> {
  const { relay, target } = options;
  const now = options.now ?? Date.now;
  const from = new Set(options.from ?? [target.source]);
  const result: BackfillResult = { tasks: 0, created: 0, merged: 0, unchanged: 0, added: { ui: 0, api: 0 }, bytes: 0, failed: [], dryRun: !!options.dryRun, aborted: false, journal: null };
  const listed: Array<{ source: TaskSource; taskId: string; meta: Record<string, unknown> }> = [];
  for await (const task of relay.tasks()) {
    if (!(TASK_SOURCES as readonly string[]).includes(task.source) || !from.has(task.source as TaskSource)) continue;
    listed.push({ source: task.source as TaskSource, taskId: task.taskId, meta: task.meta });
  }
  // Oldest first: the assistant's index ends up in the order it would have written it.
  listed.reverse();
  let journal: BackfillJournal | null = null;
  const journalPath = journalPathFor(options.journalDir, target.basePath, target.source);
  try {
    for (const task of listed) {
      if (options.signal?.aborted) {
        result.aborted = true;
        break;
      }
      result.tasks += 1;
      if (!isValidTaskId(task.taskId)) {
        result.failed.push({ source: task.source, taskId: task.taskId, code: 'STORE_INVALID_TASK_ID', reason: 'the relay holds a task id that cannot name a folder' });
        continue;
      }
      const taskId = task.taskId as TaskId;
      try {
        const [ui, api] = await Promise.all([relay.messages(task.source, taskId, 'ui'), relay.messages(task.source, taskId, 'api')]);
        const remote: TaskSnapshot = {
          source: target.source,
          taskId,
          ui: ui.map((m) => m.entry),
          api: api.map((m) => m.entry),
          historyItem: Object.keys(task.meta).length > 0 ? mapHistoryItem({ ...task.meta, id: taskId } as HistoryItem, task.source, target.source) : null,
        };
        result.bytes += jsonBytes(remote.ui) + jsonBytes(remote.api);
        const local = await target.readTask(taskId);
        const merge = local ? mergeTaskCopies(local, remote) : null;
        const next = merge ? merge.snapshot : remote;
        if (merge && !merge.changed) {
          result.unchanged += 1;
          continue;
        }
        if (!options.dryRun) {
          journal ??= await BackfillJournal.open(journalPath, target.basePath, target.source, now);
          result.journal = journal.path;
          const paths = filesTouched(target, taskId);
          await journal.append({ t: 'task', taskId, created: local === null });
          for (const path of paths) await journal.recordOriginal(path);
          await target.writeTask(next);
          await journal.recordWritten(paths);
        }
        result.added.ui += merge ? merge.added.ui : remote.ui.length;
        result.added.api += merge ? merge.added.api : remote.api.length;
        if (local) result.merged += 1;
        else result.created += 1;
      } catch (error) {
        if (!isSyncError(error) || !(error.code.startsWith('STORE_') || error.code === 'STREAM_ENTRY_INVALID' || error.code === 'TASK_NOT_FOUND')) throw error;
        result.failed.push(unreadableOf({ source: task.source, taskId }, error));
      } finally {
        options.onProgress?.({ tasksDone: result.tasks, tasksTotal: listed.length, bytesDone: result.bytes });
      }
    }
  } finally {
    await journal?.close(!result.aborted, now);
  }
  return result;
}

/** The files writing a task may replace: its ui, api and history_item.json, and the index. */
function filesTouched(store: FsTaskStore, taskId: TaskId): string[] {
  const files = store.taskFiles(taskId);
  return [files.ui, files.api, ...(files.historyItem ? [files.historyItem] : []), ...(store.indexPath ? [store.indexPath] : [])];
}

function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value));
}
