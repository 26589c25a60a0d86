/**
 * The tolerant whole-store read both task-store implementations offer besides the TaskStore
 * port: every task with its HistoryItem, plus the problems found, without throwing.
 */
import type { TaskId } from '../ids';
import type { HistoryItem, StoreProblem, TaskStore } from '../ports/task-store';

/** Where a task's HistoryItem came from. */
export type HistoryItemOrigin = 'history_item' | 'index' | 'legacy-index' | 'rebuilt' | 'none';

export interface ScannedTask {
  taskId: TaskId;
  /** null when the task has no messages or its files could not be read (see the problems). */
  historyItem: HistoryItem | null;
  origin: HistoryItemOrigin;
}

export interface TaskStoreScan {
  tasks: ScannedTask[];
  /** Corrupt files, unreadable indexes, mismatched HistoryItems; each file is left as it is. */
  problems: StoreProblem[];
}

export interface ScanOptions {
  /** Also parse every task's ui and api files (slow on big stores; finds corrupt message files). */
  deep?: boolean;
}

/** A TaskStore that can also be scanned as a whole. */
export interface ScannableTaskStore extends TaskStore {
  scan(options?: ScanOptions): Promise<TaskStoreScan>;
}

/** Error codes of the task stores (docs/errors.md lists them with the rest). */
export const STORE_ERROR_CODES = {
  /** A store file exists but is not the JSON it should be (details: path, reason). */
  corruptJson: 'STORE_CORRUPT_JSON',
  /** Another process held the file's `.lock` directory longer than the wait (details: path, lockPath, waitedMs). */
  locked: 'STORE_LOCKED',
  /** A task id that cannot name a task folder (details: taskId). */
  invalidTaskId: 'STORE_INVALID_TASK_ID',
  /** A snapshot handed to writeTask is malformed or for another source (details: taskId, reason). */
  invalidSnapshot: 'STORE_INVALID_SNAPSHOT',
  /** A store file could not be read or written for an OS reason (permissions, disk full) (details: path, reason, errno). */
  io: 'STORE_IO',
  /** An editor settings.json that could not be read or parsed (discovery problem; defaults still used). */
  settingsUnreadable: 'STORE_SETTINGS_UNREADABLE',
  /** A file was rewritten (by the assistant) between the read and a write based on it; nothing was written (details: path). */
  changed: 'STORE_CHANGED',
  /** history_item.json names another task than its folder (scan problem only). */
  historyItemMismatch: 'STORE_HISTORY_ITEM_MISMATCH',
} as const;
