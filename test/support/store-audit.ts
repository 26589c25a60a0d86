/**
 * What the fault suite checks after every scenario, read from the devices' task stores on disk:
 * every message an assistant wrote is on every device exactly once (ui messages, by their
 * unique text), no task file is corrupt JSON, every device holds the same tasks and the same
 * files, and how many conflict copies were left (`sync-conflict` files and task conflict copies). `awaitConvergence` polls until nothing is
 * missing anywhere (or the time is up) and says how long that took.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HistoryItem } from '../../core/ports/task-store';
import { isTaskConflictCopy } from '../../core/storage/task-conflict-copy';

const TASK_FILES = ['ui_messages.json', 'api_conversation_history.json', 'history_item.json'] as const;

export interface StoreSnapshot {
  /** taskId -> ui texts in file order. */
  ui: Map<string, string[]>;
  /** taskId -> file name -> the file's text (for the same-files comparison). */
  files: Map<string, Map<string, string>>;
  corrupt: string[];
  /** `*.sync-conflict-*` files beside task files. */
  conflictCopies: string[];
  /** Task conflict copies: tasks whose HistoryItem title carries the copy mark (core/storage/task-conflict-copy). */
  taskCopies: string[];
}

export async function snapshotStore(storePath: string): Promise<StoreSnapshot> {
  const snapshot: StoreSnapshot = { ui: new Map(), files: new Map(), corrupt: [], conflictCopies: [], taskCopies: [] };
  const tasksDir = join(storePath, 'tasks');
  const entries = await readdir(tasksDir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isDirectory() || entry.name.startsWith('_') || entry.name.startsWith('.')) continue;
    const folder = join(tasksDir, entry.name);
    const names = await readdir(folder).catch(() => [] as string[]);
    for (const name of names) if (name.includes('sync-conflict')) snapshot.conflictCopies.push(join(folder, name));
    const files = new Map<string, string>();
    for (const name of TASK_FILES) {
      if (!names.includes(name)) continue;
      const text = await readFile(join(folder, name), 'utf8').catch(() => null);
      if (text === null) continue;
      files.set(name, text);
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        snapshot.corrupt.push(join(folder, name));
        continue;
      }
      if (name === 'history_item.json' && isTaskConflictCopy(value as HistoryItem)) snapshot.taskCopies.push(entry.name);
      if (name === 'ui_messages.json' && Array.isArray(value)) {
        snapshot.ui.set(entry.name, value.map((m) => String((m as { text?: unknown }).text ?? '')));
      }
    }
    snapshot.files.set(entry.name, files);
  }
  return snapshot;
}

export interface AuditResult {
  made: number;
  /** Written messages missing from at least one device (counted once per device that lacks them). */
  lost: number;
  /** Extra copies of a message on a device. */
  duplicated: number;
  corruptFiles: number;
  /** `sync-conflict` files, summed over the devices. */
  conflictCopies: number;
  /** Task conflict copies (new tasks holding a displaced version of a task), summed over the devices. */
  taskCopies: number;
  /** Task files read and parsed, summed over the devices (what `corruptFiles` counts among). */
  filesAudited: number;
  /** Tasks whose files differ between devices. */
  divergedTasks: number;
  /** A few of the problems, for the failure message. */
  examples: string[];
}

/** Audits `stores` (one per device) against `made` (task -> every text written, on any machine). */
export async function auditStores(stores: readonly string[], made: ReadonlyMap<string, readonly string[]>): Promise<AuditResult> {
  const snapshots = await Promise.all(stores.map(snapshotStore));
  const result: AuditResult = { made: 0, lost: 0, duplicated: 0, corruptFiles: 0, conflictCopies: 0, taskCopies: 0, filesAudited: 0, divergedTasks: 0, examples: [] };
  const note = (text: string): void => { if (result.examples.length < 10) result.examples.push(text); };
  for (const texts of made.values()) result.made += texts.length;
  snapshots.forEach((snapshot, i) => {
    result.corruptFiles += snapshot.corrupt.length;
    result.conflictCopies += snapshot.conflictCopies.length;
    result.taskCopies += snapshot.taskCopies.length;
    for (const files of snapshot.files.values()) result.filesAudited += files.size;
    for (const path of snapshot.corrupt) note(`corrupt JSON: ${path}`);
    for (const [taskId, texts] of made) {
      const counts = new Map<string, number>();
      for (const text of snapshot.ui.get(taskId) ?? []) counts.set(text, (counts.get(text) ?? 0) + 1);
      for (const text of texts) {
        const seen = counts.get(text) ?? 0;
        if (seen === 0) {
          result.lost++;
          note(`lost on ${stores[i]}: ${text}`);
        } else if (seen > 1) {
          result.duplicated += seen - 1;
          note(`${seen}x on ${stores[i]}: ${text}`);
        }
      }
    }
  });
  const taskIds = new Set(snapshots.flatMap((s) => [...s.files.keys()]));
  for (const taskId of taskIds) {
    const first = snapshots[0]!.files.get(taskId);
    const same = snapshots.every((s) => {
      const files = s.files.get(taskId);
      if (!files || !first) return false;
      return TASK_FILES.every((name) => name === 'history_item.json' || files.get(name) === first.get(name));
    });
    if (!same) {
      result.divergedTasks++;
      note(`task ${taskId} differs between devices`);
    }
  }
  return result;
}

/** Polls `auditStores` until nothing is lost and no task differs, or `timeoutMs` passes; returns the last audit and how long it took. */
export async function awaitConvergence(stores: readonly string[], made: ReadonlyMap<string, readonly string[]>, timeoutMs: number): Promise<{ audit: AuditResult; ms: number; converged: boolean }> {
  const started = Date.now();
  for (;;) {
    const audit = await auditStores(stores, made);
    if (audit.lost === 0 && audit.divergedTasks === 0) return { audit, ms: Date.now() - started, converged: true };
    if (Date.now() - started > timeoutMs) return { audit, ms: Date.now() - started, converged: false };
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Merges several writers' `made` maps into one (task -> every text). */
export function mergeMade(...maps: ReadonlyArray<ReadonlyMap<string, readonly string[]>>): Map<string, string[]> {
  const all = new Map<string, string[]>();
  for (const map of maps) for (const [taskId, texts] of map) all.set(taskId, [...(all.get(taskId) ?? []), ...texts]);
  return all;
}
