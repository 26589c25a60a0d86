/**
 * Checks shared by every TaskStore implementation, so the file store and the in-memory one
 * refuse the same inputs with the same codes.
 */
import { SyncError } from '../errors';
import { asTaskId, type TaskId } from '../ids';
import type { TaskSource } from '../model/changes';
import type { TaskSnapshot } from '../ports/task-store';
import { isValidTaskId } from './task-ids';
import { STORE_ERROR_CODES } from './store-scan';

/** The id as a TaskId, or STORE_INVALID_TASK_ID when it cannot name a task folder. */
export function checkTaskId(taskId: string): TaskId {
  if (typeof taskId !== 'string' || !isValidTaskId(taskId)) {
    throw new SyncError(STORE_ERROR_CODES.invalidTaskId, `not a usable task id: ${JSON.stringify(taskId)}`, { taskId: String(taskId) });
  }
  return asTaskId(taskId);
}

/** Throws STORE_INVALID_SNAPSHOT unless `task` can be written to a store of `source`. */
export function checkSnapshot(task: TaskSnapshot, source: TaskSource): void {
  checkTaskId(task.taskId);
  const refuse = (reason: string): never => {
    throw new SyncError(STORE_ERROR_CODES.invalidSnapshot, `task ${task.taskId}: ${reason}`, { taskId: task.taskId, reason });
  };
  if (task.source !== source) refuse(`snapshot of ${task.source} written to a ${source} store`);
  if (!Array.isArray(task.ui)) refuse('ui is not an array');
  if (!Array.isArray(task.api)) refuse('api is not an array');
  const item = task.historyItem;
  if (item !== null) {
    if (typeof item !== 'object' || Array.isArray(item)) refuse('historyItem is not an object');
    if (item.id !== task.taskId) refuse(`historyItem.id ${JSON.stringify(item.id)} is not the task id`);
  }
}

/** A deep copy of a HistoryItem (JSON round trip: what a file store would give back). */
export function copyJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

