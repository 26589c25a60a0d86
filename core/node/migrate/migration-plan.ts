/**
 * What a migration will upload: per store, the tasks (optionally only those active since a
 * date), their size on disk and, when asked, their messages. Reads the stores, never writes.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { TaskId } from '../../ids';
import type { TaskSource } from '../../model/changes';
import type { StoreProblem } from '../../ports/task-store';
import { STORE_FILES } from '../../stores/layouts';
import type { FsTaskStore } from '../stores/fs-task-store';

export interface PlannedTask {
  source: TaskSource;
  /** The store it is in. */
  basePath: string;
  taskId: TaskId;
  /** Bytes of its ui and api files. */
  bytes: number;
  /** Its HistoryItem `ts`, or null when it has none. */
  ts: number | null;
}

export interface StorePlan {
  source: TaskSource;
  basePath: string;
  tasks: number;
  bytes: number;
  /** ui + api entries; null unless counted (`countMessages`). */
  messages: number | null;
}

/** A task whose files could not be read, with the file and the reason code. */
export interface UnreadableTask {
  source: TaskSource;
  taskId: string;
  code: string;
  path?: string;
  reason?: string;
}

export interface MigrationPlan {
  stores: StorePlan[];
  /** Every task to upload, store by store, oldest first within a store. */
  tasks: PlannedTask[];
  totals: { stores: number; tasks: number; bytes: number; messages: number | null };
  /** Tasks found unreadable while counting messages (only with `countMessages`). */
  unreadable: UnreadableTask[];
  /** Store-level problems (corrupt index, unreadable state.vscdb): reported, not fatal. */
  problems: StoreProblem[];
}

export interface PlanOptions {
  /** Only tasks whose HistoryItem `ts` is at or after this time (ms); tasks without a ts are kept. */
  since?: number;
  /** Read every task to count its messages and find unreadable ones (a full read: `--dry-run`). */
  countMessages?: boolean;
}

/** Plans the migration of `stores` (see the module comment). */
export async function planMigration(stores: readonly FsTaskStore[], options: PlanOptions = {}): Promise<MigrationPlan> {
  const plan: MigrationPlan = { stores: [], tasks: [], totals: { stores: 0, tasks: 0, bytes: 0, messages: options.countMessages ? 0 : null }, unreadable: [], problems: [] };
  for (const store of stores) {
    const scan = await store.scan();
    plan.problems.push(...scan.problems);
    const storePlan: StorePlan = { source: store.source, basePath: store.basePath, tasks: 0, bytes: 0, messages: options.countMessages ? 0 : null };
    const tasks: PlannedTask[] = [];
    for (const scanned of scan.tasks) {
      const ts = typeof scanned.historyItem?.['ts'] === 'number' ? (scanned.historyItem['ts'] as number) : null;
      if (options.since !== undefined && ts !== null && ts < options.since) continue;
      tasks.push({ source: store.source, basePath: store.basePath, taskId: scanned.taskId, bytes: await taskBytes(store, scanned.taskId), ts });
    }
    tasks.sort((a, b) => (a.ts ?? 0) - (b.ts ?? 0) || (a.taskId < b.taskId ? -1 : 1));
    for (const task of tasks) {
      if (options.countMessages) {
        try {
          const snapshot = await store.readTask(task.taskId);
          const count = snapshot ? snapshot.ui.length + snapshot.api.length : 0;
          storePlan.messages! += count;
        } catch (error) {
          plan.unreadable.push(unreadableOf(task, error));
        }
      }
      storePlan.tasks += 1;
      storePlan.bytes += task.bytes;
    }
    plan.tasks.push(...tasks);
    plan.stores.push(storePlan);
  }
  plan.totals.stores = plan.stores.length;
  plan.totals.tasks = plan.tasks.length;
  plan.totals.bytes = plan.stores.reduce((n, s) => n + s.bytes, 0);
  if (options.countMessages) plan.totals.messages = plan.stores.reduce((n, s) => n + (s.messages ?? 0), 0);
  return plan;
}

/**
 * The plan split into rounds in which each assistant has one store (a device syncs one store
 * per assistant): stores of one assistant in several editors go in separate rounds.
 */
export function planRounds(plan: MigrationPlan): MigrationPlan[] {
  const rounds: StorePlan[][] = [];
  for (const store of plan.stores) {
    const round = rounds.find((r) => !r.some((s) => s.source === store.source));
    if (round) round.push(store);
    else rounds.push([store]);
  }
  return rounds.map((stores) => {
    const key = (source: string, basePath: string): string => `${source}\u0000${basePath}`;
    const inRound = new Set(stores.map((s) => key(s.source, s.basePath)));
    const tasks = plan.tasks.filter((t) => inRound.has(key(t.source, t.basePath)));
    const messages = stores.every((s) => s.messages !== null) ? stores.reduce((n, s) => n + (s.messages ?? 0), 0) : null;
    return {
      stores,
      tasks,
      totals: { stores: stores.length, tasks: tasks.length, bytes: stores.reduce((n, s) => n + s.bytes, 0), messages },
      unreadable: plan.unreadable.filter((u) => tasks.some((t) => t.source === u.source && t.taskId === u.taskId)),
      problems: [],
    };
  });
}

/** The unreadable-task record of a read failure (a SyncError's code, path and reason). */
export function unreadableOf(task: { source: TaskSource; taskId: string }, error: unknown): UnreadableTask {
  const code = typeof (error as { code?: unknown })?.code === 'string' ? (error as { code: string }).code : 'STORE_IO';
  const details = ((error as { details?: Record<string, unknown> })?.details ?? {}) as Record<string, unknown>;
  return {
    source: task.source,
    taskId: task.taskId,
    code,
    ...(typeof details['path'] === 'string' ? { path: details['path'] } : {}),
    reason: typeof details['reason'] === 'string' ? details['reason'] : error instanceof Error ? error.message : String(error),
  };
}

async function taskBytes(store: FsTaskStore, taskId: string): Promise<number> {
  const dir = store.taskDir(taskId);
  const ui = await sizeOf(join(dir, STORE_FILES.ui));
  const api = (await sizeOf(join(dir, STORE_FILES.api))) || (await sizeOf(join(dir, STORE_FILES.legacyApi)));
  return ui + api;
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}
