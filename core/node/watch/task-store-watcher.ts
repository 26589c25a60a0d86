/**
 * Watches one assistant's task store (shared/reference/task-stores.md) and reports, per batch,
 * which tasks changed: every file under `<base>/tasks/<taskId>/` maps to that task id. Index
 * files (`tasks/_index.json`, Cline's `state/taskHistory.json`) are reported as an index
 * change. Everything else under `<base>` (settings, caches, downloads) is not watched;
 * checkpoints, command output and the assistants' temp and lock files are ignored.
 */
import { asTaskId, type TaskId } from '../../ids';
import { FileChangeDetector, type FileBatch, type FileChangeDetectorOptions } from './file-change-detector';

export interface TaskStoreBatch {
  /** Tasks with a changed or removed file, sorted. A removed file is not a deleted task. */
  taskIds: TaskId[];
  /** True when a task index file changed or vanished. */
  indexChanged: boolean;
  /** The underlying paths, relative to `<base>`. */
  files: FileBatch;
}

export type TaskStoreWatcherOptions = Pick<
  FileChangeDetectorOptions,
  'debounceMs' | 'maxWaitMs' | 'statePath' | 'forgetSavedState' | 'rescan' | 'saveIntervalMs' | 'check'
>;

const INDEX_FILES: ReadonlySet<string> = new Set(['tasks/_index.json', 'state/taskHistory.json']);

export class TaskStoreWatcher {
  private readonly detector: FileChangeDetector;

  /** `base` is the store's folder: the one holding `tasks/`. */
  constructor(base: string, options: TaskStoreWatcherOptions = {}) {
    this.detector = new FileChangeDetector(base, {
      // HybridStorage reads every changed task anyway (and skips one rewritten unchanged):
      // hashing its multi-MB files here as well would only double the reads.
      check: 'stat',
      ...options,
      ignoreAssistantScratch: true,
      depth: 2,
      ignore: (rel) => !isStorePath(rel),
    });
  }

  /** The absolute store folder. */
  get base(): string {
    return this.detector.root;
  }

  /** Subscribes to batches (awaited like FileChangeDetector's); returns the remover. */
  onBatch(listener: (batch: TaskStoreBatch) => void | Promise<void>): () => void {
    return this.detector.onBatch(async (files) => {
      const batch = toTaskStoreBatch(files);
      if (batch.taskIds.length > 0 || batch.indexChanged) await listener(batch);
    });
  }

  /** See FileChangeDetector.onError. */
  onError(listener: Parameters<FileChangeDetector['onError']>[0]): () => void {
    return this.detector.onError(listener);
  }

  /** Watches, then reports what changed since the last run. See FileChangeDetector.start. */
  start(): Promise<void> {
    return this.detector.start();
  }

  /** Checks pending events now. */
  flush(): Promise<void> {
    return this.detector.flush();
  }

  /** Safe to call twice. */
  close(): Promise<void> {
    return this.detector.close();
  }
}

/** Maps changed store paths to task ids and an index flag. */
export function toTaskStoreBatch(files: FileBatch): TaskStoreBatch {
  const ids = new Set<string>();
  let indexChanged = false;
  for (const path of [...files.changed, ...files.removed]) {
    if (INDEX_FILES.has(path)) indexChanged = true;
    const id = taskIdOf(path);
    if (id !== null) ids.add(id);
  }
  return { taskIds: [...ids].sort().map(asTaskId), indexChanged, files };
}

/** The task a store path belongs to: `tasks/<id>/<file>`; folders starting with `_` or `.` are not tasks. */
export function taskIdOf(relPath: string): string | null {
  const parts = relPath.split('/');
  if (parts.length < 3 || parts[0] !== 'tasks') return null;
  const id = parts[1]!;
  return id.startsWith('_') || id.startsWith('.') ? null : id;
}

/** Paths worth walking or watching: the `tasks` tree and the index files (and `state/`, which holds one). */
function isStorePath(rel: string): boolean {
  if (rel === 'tasks' || rel.startsWith('tasks/')) return true;
  return rel === 'state' || rel === 'state/taskHistory.json';
}
