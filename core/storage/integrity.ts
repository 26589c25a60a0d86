/**
 * validateDataIntegrity: compares what the stores and workspaces hold with the sync state,
 * the content hashes and the caches, and reports every mismatch with a stable code
 * (IntegrityCode). It reads only; fixing is the next sync's job (or the user's).
 */
import type { TaskId } from '../ids';
import { STREAM_NAMES, type StreamName, type TaskSource } from '../model/changes';
import { isSyncError } from '../errors';
import { diffHistoryItem } from '../tracking/history-diff';
import { keyEntriesStable } from './stable-keys';
import { scanWorkspace } from './file-sync';
import { IntegrityCode, type IntegrityCodeValue } from './storage-errors';
import type { EngineDeps } from './sync-context';

export interface IntegrityProblem {
  code: IntegrityCodeValue;
  source?: TaskSource;
  taskId?: string;
  stream?: StreamName;
  key?: string;
  workspaceId?: string;
  path?: string;
  detail?: string;
}

export interface IntegrityReport {
  /** True when nothing but informational problems (OUTBOX_PENDING) was found. */
  ok: boolean;
  problems: IntegrityProblem[];
  tasksChecked: number;
  filesChecked: number;
}

export async function checkIntegrity(deps: EngineDeps): Promise<IntegrityReport> {
  const problems: IntegrityProblem[] = [];
  const state = deps.ctx.state;
  let tasksChecked = 0;
  let filesChecked = 0;
  for (const store of deps.stores) {
    const source = store.source;
    const onDisk = new Set<string>(await store.listTaskIds());
    for (const task of state.allTasks()) {
      if (task.source !== source || task.deleted !== null) continue;
      const where = { source, taskId: task.taskId as string };
      if (!onDisk.has(task.taskId)) {
        if (task.streams.ui.size + task.streams.api.size > 0) problems.push({ code: IntegrityCode.TASK_MISSING, ...where });
        continue;
      }
      tasksChecked++;
      let snapshot;
      try {
        snapshot = await store.readTask(task.taskId);
      } catch (err) {
        problems.push({ code: IntegrityCode.TASK_UNREADABLE, ...where, detail: isSyncError(err) ? err.code : String(err) });
        continue;
      }
      if (!snapshot) continue;
      for (const stream of STREAM_NAMES) {
        const tracked = task.streams[stream];
        let keyed;
        try {
          keyed = keyEntriesStable(stream, snapshot[stream], tracked, snapshot.keyed?.[stream]);
        } catch (err) {
          problems.push({ code: IntegrityCode.TASK_UNREADABLE, ...where, stream, detail: isSyncError(err) ? err.code : String(err) });
          continue;
        }
        const seen = new Set<string>();
        for (const entry of keyed) {
          seen.add(entry.key);
          const synced = tracked.get(entry.key);
          if (!synced) problems.push({ code: IntegrityCode.ENTRY_UNTRACKED, ...where, stream, key: entry.key });
          else if (synced.hash !== entry.hash) problems.push({ code: IntegrityCode.ENTRY_HASH_MISMATCH, ...where, stream, key: entry.key });
        }
        for (const synced of tracked.values()) {
          if (seen.has(synced.key)) continue;
          problems.push({ code: IntegrityCode.ENTRY_MISSING, ...where, stream, key: synced.key });
          if (!(await deps.ctx.entryCache.has(synced.hash))) {
            problems.push({ code: IntegrityCode.CACHE_MISSING, ...where, stream, key: synced.key });
          }
        }
      }
      const changed = diffHistoryItem(snapshot.historyItem, task.fields);
      if (changed.length > 0) problems.push({ code: IntegrityCode.META_MISMATCH, ...where, detail: changed.join(',') });
    }
    for (const taskId of onDisk) {
      const task = state.getTask(source, taskId as TaskId);
      if (!task || (task.streams.ui.size + task.streams.api.size === 0 && Object.keys(task.fields).length === 0)) {
        problems.push({ code: IntegrityCode.TASK_UNTRACKED, source, taskId });
      }
    }
  }
  for (const files of deps.workspaces) {
    const workspaceId = files.workspaceId as string;
    const scanned = await scanWorkspace(deps.ctx, files);
    for (const synced of state.filesOf(files.workspaceId)) {
      filesChecked++;
      const where = { workspaceId, path: synced.path };
      const disk = scanned.get(synced.path);
      if (!synced.deleted && !disk) problems.push({ code: IntegrityCode.FILE_MISSING, ...where });
      else if (!synced.deleted && disk && disk.hash !== synced.hash) problems.push({ code: IntegrityCode.FILE_HASH_MISMATCH, ...where });
      if (synced.baseHash && !(await deps.ctx.blobs.has(synced.baseHash))) problems.push({ code: IntegrityCode.BLOB_MISSING, ...where });
    }
  }
  if (deps.outbox.size > 0) problems.push({ code: IntegrityCode.OUTBOX_PENDING, detail: `${deps.outbox.size} queued` });
  return { ok: problems.every((p) => p.code === IntegrityCode.OUTBOX_PENDING), problems, tasksChecked, filesChecked };
}
