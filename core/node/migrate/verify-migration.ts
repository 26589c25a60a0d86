/**
 * `migrate --verify`: compares each local task with the relay's copy: every ui and api entry's
 * content hash (the relay's read model, `GET /v1/tasks/:source/:taskId/messages`) and every
 * HistoryItem field (`GET /v1/tasks/:source/:taskId`), and lists each difference. The read
 * model follows the change log asynchronously, so a task that differs is fetched again a few
 * times (with a growing pause) before its differences count.
 */
import { isSyncError } from '../../errors';
import type { TaskId } from '../../ids';
import { STREAM_NAMES, type StreamName } from '../../model/changes';
import type { TaskSnapshot } from '../../ports/task-store';
import { keyEntries } from '../../tracking/stream-keys';
import type { TaskReadClient } from '../../client/task-read-client';
import type { FsTaskStore } from '../stores/fs-task-store';
import type { PlannedTask } from './migration-plan';

export type DifferenceKind = 'task-missing-on-relay' | 'missing-on-relay' | 'missing-locally' | 'content-differs' | 'field-differs';

export interface TaskDifference {
  source: string;
  taskId: string;
  kind: DifferenceKind;
  /** `ui`, `api` or `meta`. */
  part?: StreamName | 'meta';
  /** The entry key, or the HistoryItem field name. */
  key?: string;
  local?: string;
  relay?: string;
}

export interface VerifyResult {
  checked: number;
  /** Tasks that match the relay exactly. */
  matching: number;
  differences: TaskDifference[];
}

export interface VerifyOptions {
  stores: readonly FsTaskStore[];
  tasks: readonly PlannedTask[];
  relay: TaskReadClient;
  /** Fetches of a differing task before its differences count. Default 5. */
  attempts?: number;
  /** First pause between them (ms), doubled each time. Default 200. */
  retryDelayMs?: number;
  onProgress?: (done: number, total: number) => void;
}

export async function verifyMigration(options: VerifyOptions): Promise<VerifyResult> {
  const storeOf = new Map(options.stores.map((s) => [s.source, s]));
  const result: VerifyResult = { checked: 0, matching: 0, differences: [] };
  let done = 0;
  for (const task of options.tasks) {
    const store = storeOf.get(task.source);
    let snapshot: TaskSnapshot | null = null;
    try {
      snapshot = (await store?.readTask(task.taskId as TaskId)) ?? null;
    } catch {
      snapshot = null; // unreadable: migrate reported it
    }
    options.onProgress?.(++done, options.tasks.length);
    if (!snapshot) continue;
    result.checked += 1;
    let differences: TaskDifference[] = [];
    let delay = options.retryDelayMs ?? 200;
    for (let attempt = 1; attempt <= (options.attempts ?? 5); attempt++) {
      differences = await compareTask(options.relay, snapshot);
      if (differences.length === 0) break;
      if (attempt < (options.attempts ?? 5)) {
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay *= 2;
      }
    }
    if (differences.length === 0) result.matching += 1;
    result.differences.push(...differences);
  }
  return result;
}

/** Differences between one local task and the relay's copy. */
export async function compareTask(relay: TaskReadClient, snapshot: TaskSnapshot): Promise<TaskDifference[]> {
  const { source, taskId } = snapshot;
  const out: TaskDifference[] = [];
  let meta: Record<string, unknown>;
  try {
    meta = (await relay.task(source, taskId)).meta;
  } catch (error) {
    if (isSyncError(error, 'TASK_NOT_FOUND')) return [{ source, taskId, kind: 'task-missing-on-relay' }];
    throw error;
  }
  for (const [field, value] of Object.entries(snapshot.historyItem ?? {})) {
    if (value === undefined || value === null) continue;
    const local = JSON.stringify(value);
    const remote = meta[field] === undefined ? undefined : JSON.stringify(meta[field]);
    if (local !== remote) out.push({ source, taskId, kind: 'field-differs', part: 'meta', key: field, local, ...(remote !== undefined ? { relay: remote } : {}) });
  }
  for (const stream of STREAM_NAMES) {
    const local = new Map((snapshot.keyed?.[stream] ?? keyEntries(stream, snapshot[stream])).map((e) => [e.key, e.hash]));
    let remote: Map<string, string>;
    try {
      remote = new Map((await relay.messages(source, taskId, stream)).map((m) => [m.key, m.hash]));
    } catch (error) {
      if (isSyncError(error, 'TASK_NOT_FOUND')) remote = new Map();
      else throw error;
    }
    for (const [key, hash] of local) {
      const other = remote.get(key);
      if (other === undefined) out.push({ source, taskId, kind: 'missing-on-relay', part: stream, key, local: hash });
      else if (other !== hash) out.push({ source, taskId, kind: 'content-differs', part: stream, key, local: hash, relay: other });
    }
    for (const [key, hash] of remote) if (!local.has(key)) out.push({ source, taskId, kind: 'missing-locally', part: stream, key, relay: hash });
  }
  return out;
}
