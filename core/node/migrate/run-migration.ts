/**
 * Uploads a planned migration through a device's HybridStorage (HybridStorage
 * .migrateLocalTasksToCloud: slice by slice, so memory does not grow with the store). The
 * device's own sync state and outbox are the checkpoint: a rerun after Ctrl-C, a kill or a lost
 * network resumes, queues nothing already sent, and a later `sync` has nothing left to send.
 * Never writes to the task stores.
 */
import type { HybridStorage } from '../../storage/hybrid-storage';
import type { MigrationPlan, UnreadableTask } from './migration-plan';

export interface MigrationProgressEvent {
  tasksDone: number;
  tasksTotal: number;
  bytesDone: number;
  bytesTotal: number;
  /** Changes the relay acknowledged so far. */
  accepted: number;
}

export interface RunMigrationOptions {
  storage: HybridStorage;
  plan: MigrationPlan;
  /** Most tasks per slice. Default 50 (and at most SLICE_BYTES of task files). */
  sliceTasks?: number;
  signal?: AbortSignal;
  onProgress?: (event: MigrationProgressEvent) => void;
}

export interface MigrationResult {
  tasks: number;
  bytes: number;
  /** Changes detected and queued by this run (0 on a rerun after a complete one). */
  queued: number;
  /** Changes the relay acknowledged in this run (including ones an earlier run had left queued). */
  accepted: number;
  conflicts: number;
  /** Conflicts left for the next sync. */
  unresolved: number;
  unreadable: UnreadableTask[];
  /** Stopped by the signal before the end (run again to finish). */
  aborted: boolean;
  /** Nothing was left to upload. */
  upToDate: boolean;
}

/**
 * Bytes of task files in a slice at most. Three slices are in memory at once (one read ahead,
 * one being detected, one being pushed, see HybridStorage.migrateLocalTasksToCloud), parsed
 * and as queued changes: slices bounded in bytes keep the migration's memory the same for a
 * store of big tasks as for one of small ones, and whatever its size.
 */
export const SLICE_BYTES = 4 * 1024 * 1024;

export async function runMigration(options: RunMigrationOptions): Promise<MigrationResult> {
  const { plan } = options;
  const bytesOf = new Map(plan.tasks.map((t) => [`${t.source}\u0000${t.taskId}`, t.bytes]));
  let bytesDone = 0;
  const report = await options.storage.migrateLocalTasksToCloud({
    tasks: plan.tasks.map(({ source, taskId, bytes }) => ({ source, taskId, bytes })),
    sliceTasks: options.sliceTasks,
    sliceBytes: SLICE_BYTES,
    signal: options.signal,
    onProgress: (p) => {
      if (p.phase !== 'push') return;
      for (const t of p.slice) bytesDone += bytesOf.get(`${t.source}\u0000${t.taskId}`) ?? 0;
      options.onProgress?.({ tasksDone: p.done, tasksTotal: p.total, bytesDone, bytesTotal: plan.totals.bytes, accepted: p.accepted });
    },
  });
  return {
    tasks: report.tasks,
    bytes: plan.totals.bytes,
    queued: report.queued,
    accepted: report.pushed.accepted,
    conflicts: report.pushed.conflicts,
    unresolved: report.pushed.unresolved,
    unreadable: report.unreadable.map((u) => ({ ...u })),
    aborted: report.aborted,
    upToDate: report.queued === 0 && report.pushed.accepted === 0,
  };
}
