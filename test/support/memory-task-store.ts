/**
 * An in-memory TaskStore with the file store's semantics (same id checks and error codes,
 * HistoryItem rebuilt when none is given, copies in and out so callers cannot alias its
 * state), for fast unit tests and the convergence simulation.
 */
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

  constructor(options: MemoryTaskStoreOptions = {}) {
    this.source = options.source ?? 'roo-code';
    this.basePath = options.basePath ?? `memory://${this.source}`;
  }

  async listTaskIds(): Promise<TaskId[]> {
    return [...this.tasks.keys()].sort().map(checkTaskId);
  }

  async readTask(taskId: TaskId): Promise<TaskSnapshot | null> {
    const task = this.tasks.get(checkTaskId(taskId));
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
    const before = this.tasks.get(copy.taskId);
    if (before && JSON.stringify(before) === JSON.stringify(copy)) return;
    this.tasks.set(copy.taskId, copy);
    this.writes++;
  }

  async deleteTask(taskId: TaskId): Promise<void> {
    this.tasks.delete(checkTaskId(taskId));
  }

  async scan(): Promise<TaskStoreScan> {
    return {
      tasks: [...this.tasks.values()]
        .sort((a, b) => (a.taskId < b.taskId ? -1 : 1))
        .map((t) => ({ taskId: t.taskId, historyItem: copyJson(t.historyItem), origin: t.historyItem ? 'history_item' : 'none' })),
      problems: [],
    };
  }
}
