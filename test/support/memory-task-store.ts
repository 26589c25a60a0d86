/**
 * An in-memory TaskStore with the file store's semantics (same id checks and error codes,
 * HistoryItem rebuilt when none is given, copies in and out so callers cannot alias its
 * state), for fast unit tests and the convergence simulation.
 */
import { SyncError } from '../../core/errors';
import type { TaskId } from '../../core/ids';
import type { TaskSource } from '../../core/model/changes';
import type { TaskSnapshot } from '../../core/ports/task-store';
import { rebuildHistoryItem } from '../../core/stores/history-item';
import { layoutOf } from '../../core/stores/layouts';
import { checkSnapshot, checkTaskId, copyJson } from '../../core/stores/snapshot';
import type { ScannableTaskStore, TaskStoreScan } from '../../core/stores/store-scan';

export interface MemoryTaskStoreOptions {
  source?: TaskSource;
  basePath?: string;
}

export class MemoryTaskStore implements ScannableTaskStore {
  readonly source: TaskSource;
  readonly basePath: string;
  private readonly tasks = new Map<string, TaskSnapshot>();
  /** How many writeTask calls changed something (for tests that count rewrites). */
  writes = 0;
  /**
   * Tasks whose files are corrupt (`damage`): reading one throws STORE_CORRUPT_JSON, as the file
   * store does for a file cut short, until the task is written whole again or `repair`ed.
   */
  private readonly damaged = new Set<string>();

  constructor(options: MemoryTaskStoreOptions = {}) {
    this.source = options.source ?? 'roo-code';
    this.basePath = options.basePath ?? `memory://${this.source}`;
  }

  async listTaskIds(): Promise<TaskId[]> {
    return [...this.tasks.keys()].sort().map(checkTaskId);
  }

  async readTask(taskId: TaskId): Promise<TaskSnapshot | null> {
    const task = this.tasks.get(checkTaskId(taskId));
    if (task && this.damaged.has(taskId)) {
      const path = `${this.basePath}/tasks/${taskId}/ui_messages.json`;
      throw new SyncError('STORE_CORRUPT_JSON', `${path}: Unexpected end of JSON input`, { path, reason: 'Unexpected end of JSON input' });
    }
    return task ? copyJson(task) : null;
  }

  /** Makes the task's files unreadable (as an interrupted write leaves them) until written or repaired. */
  damage(taskId: TaskId): void {
    if (this.tasks.has(checkTaskId(taskId))) this.damaged.add(taskId);
  }

  /** Makes a damaged task readable again, as it was (restored from a backup). */
  repair(taskId: TaskId): void {
    this.damaged.delete(taskId);
  }

  isDamaged(taskId: TaskId | string): boolean {
    return this.damaged.has(taskId);
  }

  /** Tasks damaged now. */
  damagedIds(): TaskId[] {
    return [...this.damaged].sort() as TaskId[];
  }

  /** The task as stored, even when damaged (what a copy of the folder holds). */
  peek(taskId: TaskId): TaskSnapshot | null {
    const task = this.tasks.get(taskId);
    return task ? copyJson(task) : null;
  }

  async writeTask(task: TaskSnapshot): Promise<void> {
    checkSnapshot(task, this.source);
    const copy = copyJson(task);
    // What a snapshot says about how it was read is not task data (a real store keeps files).
    delete copy.read;
    delete copy.keyed;
    // No HistoryItem given: keep the stored one (never replace it with less), else rebuild.
    copy.historyItem ??= this.tasks.get(copy.taskId)?.historyItem ?? null;
    if (copy.historyItem === null) {
      const extra = layoutOf(this.source).kind === 'roo' ? { number: 0 } : {};
      copy.historyItem = rebuildHistoryItem(copy.taskId, copy.ui, extra);
    }
    // Written whole: a damaged task's files are whole again.
    this.damaged.delete(copy.taskId);
    const before = this.tasks.get(copy.taskId);
    if (before && JSON.stringify(before) === JSON.stringify(copy)) return;
    this.tasks.set(copy.taskId, copy);
    this.writes++;
  }

  async deleteTask(taskId: TaskId): Promise<void> {
    this.damaged.delete(taskId);
    this.tasks.delete(checkTaskId(taskId));
  }

  async scan(): Promise<TaskStoreScan> {
    return {
      tasks: [...this.tasks.values()]
        .filter((t) => !this.damaged.has(t.taskId))
        .sort((a, b) => (a.taskId < b.taskId ? -1 : 1))
        .map((t) => ({ taskId: t.taskId, historyItem: copyJson(t.historyItem), origin: t.historyItem ? 'history_item' : 'none' })),
      problems: this.damagedIds().map((taskId) => ({ code: 'STORE_CORRUPT_JSON', path: `${this.basePath}/tasks/${taskId}/ui_messages.json`, reason: 'Unexpected end of JSON input' })),
    };
  }
}
