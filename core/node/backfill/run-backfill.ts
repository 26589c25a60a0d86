/**
 * Backfill: the user's tasks from the relay's read model written into a local task store in
 * its assistant's own format (FsTaskStore: atomic writes, the assistant's `.lock` folders,
 * history_item.json, the index), so they show in its history. A task the store has is merged
 * (mergeTaskCopies: union of messages, fields per field), never overwritten; tasks of another
 * assistant get their HistoryItem mapped (mapHistoryItem). Every change is announced in the
 * store's backfill journal first, so `rollbackBackfill` can undo exactly it.
 *
 * Streams come as the text of their files (TaskReadClient.streamFile, which checks each page is a
 * JSON array): a task new to the store is written from that text as it is, without holding its
 * messages parsed or serialising them again (most of a backfill's CPU and memory otherwise);
 * only a task to merge, or one without a HistoryItem to rebuild, is used parsed.
 */
import { waitForReadModel } from '../../client/read-model-wait';
import type { StreamFile, TaskReadClient } from '../../client/task-read-client';
import { SyncError, isSyncError } from '../../errors';
import { parseStreamJson } from '../../protocol/stream-page';
import type { TaskId } from '../../ids';
import { TASK_SOURCES, type TaskSource } from '../../model/changes';
import type { HistoryItem, TaskSnapshot } from '../../ports/task-store';
import { mapConcurrent } from '../../map-concurrent';
import { mapHistoryItem } from '../../stores/history-mapping';
import { isValidTaskId } from '../../stores/task-ids';
import { mergeTaskCopies } from '../../stores/task-merge';
import { unreadableOf, type UnreadableTask } from '../migrate/migration-plan';
import { isFilesJson, type FsTaskStore, type TaskWrite } from '../stores/fs-task-store';
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
  /** While the relay's read model is still applying changes pushed before the backfill: how many it lacks. */
  onReadModelBehind?: (changes: number) => void;
  /** Longest wait for a read model that does not move, ms (READ_MODEL_BEHIND after). Default 60 s. */
  readModelStallMs?: number;
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
  /** Bytes of the tasks' ui and api files as JSON (as written; with `dryRun`, as they would be). */
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
  // The tasks come from the read model, which follows the log asynchronously: first let it
  // cover everything pushed until now (a migration that just ended may still be applying).
  const caughtUp = await waitForReadModel(relay, { signal: options.signal, onBehind: options.onReadModelBehind, stallMs: options.readModelStallMs });
  if (caughtUp.aborted) return { ...result, aborted: true };
  const listed: Array<{ source: TaskSource; taskId: string; meta: Record<string, unknown> }> = [];
  for await (const task of relay.tasks()) {
    if (!(TASK_SOURCES as readonly string[]).includes(task.source) || !from.has(task.source as TaskSource)) continue;
    listed.push({ source: task.source as TaskSource, taskId: task.taskId, meta: task.meta });
  }
  // Oldest first: the assistant's index ends up in the order it would have written it.
  listed.reverse();
  let journal: BackfillJournal | null = null;
  const journalPath = journalPathFor(options.journalDir, target.basePath, target.source);
  const batches: Array<typeof listed> = [];
  for (let i = 0; i < listed.length; i += BATCH) batches.push(listed.slice(i, i + BATCH));
  // The next batch is fetched from the relay while this one is written.
  let next: Promise<Fetched[]> | null = batches.length > 0 ? fetchBatch(relay, batches[0]!, target.source) : null;
  try {
    for (let b = 0; b < batches.length; b++) {
      if (options.signal?.aborted) {
        result.aborted = true;
        break;
      }
      const fetched = await next!;
      next = b + 1 < batches.length ? fetchBatch(relay, batches[b + 1]!, target.source) : null;
      const writes: Array<{ write: TaskWrite; created: boolean; added: { ui: number; api: number } }> = [];
      for (const item of fetched) {
        result.tasks += 1;
        const { task } = item;
        if ('error' in item) {
          if (!isSyncError(item.error) || !TASK_ERRORS(item.error.code)) throw item.error;
          result.failed.push(unreadableOf(task, item.error));
          continue;
        }
        const { files } = item;
        try {
          const local = await target.readTask(files.taskId);
          if (local === null && files.historyItem !== null) {
            // New to the store: its files' text as the relay sent it.
            writes.push({ write: { kind: 'files-json', ...files, historyItem: files.historyItem }, created: true, added: { ui: files.ui.count, api: files.api.count } });
            continue;
          }
          const remote = snapshotOf(files);
          const merge = local ? mergeTaskCopies(local, remote) : null;
          if (merge && !merge.changed) {
            result.unchanged += 1;
            result.bytes += files.ui.json.length + files.api.json.length;
            continue;
          }
          writes.push({ write: merge ? merge.snapshot : remote, created: local === null, added: merge ? merge.added : { ui: remote.ui.length, api: remote.api.length } });
        } catch (error) {
          if (!isSyncError(error) || !TASK_ERRORS(error.code)) throw error;
          result.failed.push(unreadableOf(task, error));
        }
      }
      let failedIds = new Set<string>();
      if (options.dryRun) for (const w of writes) result.bytes += writtenBytes(w.write);
      else if (writes.length > 0) {
        journal ??= await BackfillJournal.open(journalPath, target.basePath, target.source, now);
        result.journal = journal.path;
        const paths = writes.flatMap((w) => filesTouched(target, w.write.taskId));
        await journal.announce(writes.map((w) => ({ taskId: w.write.taskId, created: w.created })), paths);
        const { failed: failures, bytes } = await target.writeTasks(writes.map((w) => w.write));
        result.bytes += bytes;
        await journal.recordWritten([...new Set(paths)]);
        for (const f of failures) {
          if (!isSyncError(f.error) || !TASK_ERRORS(f.error.code)) throw f.error;
          result.failed.push(unreadableOf({ source: target.source, taskId: f.taskId }, f.error));
        }
        failedIds = new Set(failures.map((f) => f.taskId as string));
      }
      for (const w of writes) {
        if (failedIds.has(w.write.taskId)) continue;
        result.added.ui += w.added.ui;
        result.added.api += w.added.api;
        if (w.created) result.created += 1;
        else result.merged += 1;
      }
      options.onProgress?.({ tasksDone: result.tasks, tasksTotal: listed.length, bytesDone: result.bytes });
    }
  } finally {
    await next?.catch(() => undefined);
    await journal?.close(!result.aborted, now);
  }
  return result;
}

/**
 * Tasks fetched and written per batch: one index rewrite (parse, merge, serialise and fsync the
 * whole index, which grows with the store) and two journal fsyncs each.
 */
const BATCH = 100;
/** Tasks fetched from the relay at once. */
const FETCH_CONCURRENCY = 8;

/** Codes that fail one task, not the backfill. */
function TASK_ERRORS(code: string): boolean {
  return code.startsWith('STORE_') || code === 'STREAM_ENTRY_INVALID' || code === 'TASK_NOT_FOUND';
}

type Listed = { source: TaskSource; taskId: string; meta: Record<string, unknown> };
/** A relay task as the target's source would hold it: its streams' text and its mapped HistoryItem. */
interface RelayTaskFiles {
  source: TaskSource;
  taskId: TaskId;
  ui: StreamFile;
  api: StreamFile;
  historyItem: HistoryItem | null;
}
type Fetched = { task: Listed; files: RelayTaskFiles } | { task: Listed; error: unknown };

/** The relay's copies of `tasks`, for a store of the target's source (errors per task). */
async function fetchBatch(relay: TaskReadClient, tasks: readonly Listed[], targetSource: TaskSource): Promise<Fetched[]> {
  return mapConcurrent(tasks, FETCH_CONCURRENCY, async (task): Promise<Fetched> => {
    try {
      if (!isValidTaskId(task.taskId)) throw new SyncError('STORE_INVALID_TASK_ID', 'the relay holds a task id that cannot name a folder', { taskId: task.taskId });
      const taskId = task.taskId as TaskId;
      const [ui, api] = await Promise.all([relay.streamFile(task.source, taskId, 'ui'), relay.streamFile(task.source, taskId, 'api')]);
      const historyItem = Object.keys(task.meta).length > 0 ? mapHistoryItem({ ...task.meta, id: taskId } as HistoryItem, task.source, targetSource) : null;
      return { task, files: { source: targetSource, taskId, ui, api, historyItem } };
    } catch (error) {
      return { task, error };
    }
  });
}

/** The files writing a task may replace: its ui, api and history_item.json, and the index. */
function filesTouched(store: FsTaskStore, taskId: TaskId): string[] {
  const files = store.taskFiles(taskId);
  return [files.ui, files.api, ...(files.historyItem ? [files.historyItem] : []), ...(store.indexPath ? [store.indexPath] : [])];
}

/** The relay's task with its streams parsed, to merge with a local copy or rebuild a HistoryItem from. */
function snapshotOf(files: RelayTaskFiles): TaskSnapshot {
  return { source: files.source, taskId: files.taskId, ui: parseStreamJson(files.ui.json), api: parseStreamJson(files.api.json), historyItem: files.historyItem };
}

/** Bytes of the ui and api files a write leaves. */
function writtenBytes(write: TaskWrite): number {
  if (isFilesJson(write)) return write.ui.json.length + write.api.json.length;
  return Buffer.byteLength(JSON.stringify(write.ui)) + Buffer.byteLength(JSON.stringify(write.api));
}
