/**
 * Port: one assistant's task store on disk (Roo Code, Zoo Code, Kilo Code or Cline layout).
 * The Node implementation is in core/node/stores; tests may use an in-memory one.
 */
import type { TaskId } from '../ids';
import type { StreamName, TaskSource } from '../model/changes';
import type { KeyedEntry } from '../tracking/stream-keys';

/** A HistoryItem: the assistant's task metadata. Unknown fields pass through untouched. */
export type HistoryItem = Record<string, unknown> & { id: string };

/** Everything of one task that syncs. */
export interface TaskSnapshot {
  source: TaskSource;
  taskId: TaskId;
  /** Entries of ui_messages.json, in file order. */
  ui: unknown[];
  /** Entries of api_conversation_history.json (or legacy claude_messages.json), in file order. */
  api: unknown[];
  /** The task's HistoryItem; rebuilt from the messages when no index has it. */
  historyItem: HistoryItem | null;
  /**
   * The same entries already keyed and hashed, for the streams where the store has them at
   * hand (FsTaskStore parses incrementally), so change detection need not re-hash a 20 MB
   * file for one appended message. Read-only; ignored when writing.
   */
  keyed?: Partial<Record<StreamName, readonly KeyedEntry[]>>;
  /**
   * What the store's files were when this snapshot was read (opaque version stamps per stream,
   * null for a file that did not exist). A write of a snapshot derived from this one replaces a
   * file only if it is still that version (checked under the file's lock), so a rewrite the
   * assistant made meanwhile is never overwritten: the write fails with STORE_CHANGED and the
   * caller reads and merges again. Absent: no check (a task written from scratch).
   */
  read?: Partial<Record<StreamName, string | null>>;
}

/** A problem found while reading a store; the file is left as it is. */
export interface StoreProblem {
  code: string;
  path: string;
  reason: string;
}

export interface ReadTaskOptions {
  /**
   * The task's entries are about to be queued for upload and then let go (a migration): the
   * store may note each entry's JSON text for its change (core/model/change-json.ts) and need
   * not keep the parse for later reads.
   */
  forUpload?: boolean;
}

export interface TaskStore {
  readonly source: TaskSource;
  /** The folder that holds `tasks/`. */
  readonly basePath: string;
  /** Ids of every task folder (temp, lock, `_`/`.` folders skipped). */
  listTaskIds(): Promise<TaskId[]>;
  /**
   * The task as on disk, or null when its folder is gone. A corrupt or truncated file throws a
   * SyncError (code STORE_CORRUPT_JSON) naming the path; the file is never rewritten with less.
   */
  readTask(taskId: TaskId, options?: ReadTaskOptions): Promise<TaskSnapshot | null>;
  /**
   * Writes the task in the assistant's own format: atomic replace of each changed file,
   * waiting for a live `.lock` directory, then history_item.json and the index.
   */
  writeTask(task: TaskSnapshot): Promise<void>;
  /** Removes the task folder and its index entry (an explicit delete, never an absence). */
  deleteTask(taskId: TaskId): Promise<void>;
}
