/**
 * FsTaskStore: the TaskStore port over an assistant's task folder on disk, in the Roo Code /
 * Zoo Code / Kilo Code layout or Cline's classic one (shared/reference/task-stores.md).
 *
 * Reading tolerates what real stores hold: legacy `claude_messages.json`, all three task-id
 * eras, temp and lock leftovers, missing indexes (the HistoryItem is then rebuilt from the
 * messages). A corrupt file is reported with its path and reason and is never replaced with
 * less. Writing uses the assistant's own format: compact JSON, atomic replace, its `.lock`
 * directories, only changed files, then `history_item.json` and the index.
 */
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { SyncError, isSyncError } from '../../errors';
import { mapConcurrent } from '../../map-concurrent';
import type { TaskId } from '../../ids';
import type { TaskSource } from '../../model/changes';
import type { HistoryItem, ReadTaskOptions, StoreProblem, TaskSnapshot } from '../../ports/task-store';
import { rebuildHistoryItem } from '../../stores/history-item';
import { layoutOf, STORE_FILES, type TaskStoreLayout } from '../../stores/layouts';
import { checkSnapshot, checkTaskId } from '../../stores/snapshot';
import {
  STORE_ERROR_CODES,
  type HistoryItemOrigin,
  type ScannableTaskStore,
  type ScannedTask,
  type ScanOptions,
  type TaskStoreScan,
} from '../../stores/store-scan';
import { isTaskFolderName } from '../../stores/task-ids';
import { withFileLock, type FileLockOptions } from './file-lock';
import { expectArray, expectObject, fileVersion, isErrnoCode, parseStoreJson, readFileIfExists, readFileVersioned, readStoreJson, writeFileAtomic } from './json-file';
import { taskIndexFileFor, type TaskIndexFile } from './task-index-files';
import { ParsedStreamCache } from './parsed-stream-cache';
import { parseStreamText, type ParsedStream } from '../../tracking/stream-text';
import type { StreamName } from '../../model/changes';

export interface FsTaskStoreOptions {
  source: TaskSource;
  /** The folder that holds `tasks/` (the custom storage path, or the extension's globalStorage). */
  basePath: string;
  /** Defaults to the layout table's row for `source`. */
  layout?: TaskStoreLayout;
  /** Lock timings (defaults: the assistants' 31 s staleness, 10 s wait). */
  lock?: Partial<FileLockOptions>;
  /** Clock for `_index.json`'s `updatedAt` and corrupt-copy names. */
  now?: () => number;
  /**
   * The index the assistant kept before it wrote one to disk (VS Code's `state.vscdb`, see
   * LegacyStateIndex): read-only, consulted after history_item.json and the store's own index,
   * before a HistoryItem is rebuilt from the messages.
   */
  legacyIndex?: LegacyTaskIndex;
}

/**
 * A task with its streams as the JSON text of their files (TaskReadClient.streamFile), written as
 * it is: no entry is parsed or serialised again. A backfill writes its new tasks this way.
 */
export interface TaskFilesJson {
  kind: 'files-json';
  source: TaskSource;
  taskId: TaskId;
  /** UTF-8 text of a JSON array (`[` … `]`), which the caller checked is JSON (parseStreamJson). */
  ui: { json: Uint8Array };
  api: { json: Uint8Array };
  historyItem: HistoryItem;
}

/** What writeTasks takes: a task's entries, or its files' text. */
export type TaskWrite = TaskSnapshot | TaskFilesJson;

/** A read-only source of HistoryItems by task id (null: it has none). */
export interface LegacyTaskIndex {
  readonly path: string;
  entries(): Promise<ReadonlyMap<string, HistoryItem> | null>;
}

interface ResolvedHistoryItem {
  item: HistoryItem | null;
  origin: HistoryItemOrigin;
}

export class FsTaskStore implements ScannableTaskStore {
  readonly source: TaskSource;
  readonly basePath: string;
  readonly layout: TaskStoreLayout;
  private readonly lock: Partial<FileLockOptions>;
  private readonly now: () => number;
  private readonly index: TaskIndexFile | null;
  private readonly legacyIndex: LegacyTaskIndex | null;
  /** Last parse of recently read ui/api files: re-reading after an append parses only the new entries. */
  private readonly parsedStreams = new ParsedStreamCache();
  /**
   * The entry lists readTask handed out, with the file and version each was read from: a
   * snapshot written back with a stream it did not change (the same list, the file still at
   * that version) leaves that file alone without serialising and comparing it.
   */
  private readonly handedOut = new WeakMap<readonly unknown[], { path: string; version: string }>();

  constructor(options: FsTaskStoreOptions) {
    this.source = options.source;
    this.basePath = options.basePath;
    this.layout = options.layout ?? layoutOf(options.source);
    this.lock = options.lock ?? {};
    this.now = options.now ?? Date.now;
    this.index = taskIndexFileFor(this.layout, this.basePath, { lock: this.lock, now: this.now });
    this.legacyIndex = options.legacyIndex ?? null;
  }

  /** The entries of the store's own index file by task id (null: the layout has none, or it is missing); cached while the file is unchanged. */
  indexEntries(): Promise<ReadonlyMap<string, HistoryItem> | null> {
    return this.index ? this.index.entries() : Promise.resolve(null);
  }

  /** `<base>/tasks`. */
  get tasksDir(): string {
    return join(this.basePath, STORE_FILES.tasksDir);
  }

  /** The folder of one task. */
  taskDir(taskId: string): string {
    return join(this.tasksDir, checkTaskId(taskId));
  }

  /** The paths of one task's files (for watchers): they need not exist. */
  taskFiles(taskId: string): { dir: string; ui: string; api: string; historyItem: string | null } {
    const dir = this.taskDir(taskId);
    return {
      dir,
      ui: join(dir, STORE_FILES.ui),
      api: join(dir, STORE_FILES.api),
      historyItem: this.layout.kind === 'roo' ? join(dir, STORE_FILES.historyItem) : null,
    };
  }

  /** The index file this store keeps up to date (`_index.json` or Cline's `taskHistory.json`), or null. */
  get indexPath(): string | null {
    return this.index?.path ?? null;
  }

  async listTaskIds(): Promise<TaskId[]> {
    let entries;
    try {
      entries = await readdir(this.tasksDir, { withFileTypes: true });
    } catch (error) {
      if (isErrnoCode(error, 'ENOENT')) return [];
      throw error;
    }
    const ids: TaskId[] = [];
    for (const entry of entries) {
      if (entry.isDirectory() && isTaskFolderName(entry.name) && (await hasTaskFiles(join(this.tasksDir, entry.name)))) {
        ids.push(checkTaskId(entry.name));
      }
    }
    return ids.sort();
  }

  async readTask(taskId: TaskId, options: ReadTaskOptions = {}): Promise<TaskSnapshot | null> {
    const dir = this.taskDir(taskId);
    if (!(await hasTaskFiles(dir))) return null;
    const forUpload = options.forUpload === true;
    const ui = await this.readStream('ui', [join(dir, STORE_FILES.ui)], forUpload);
    const api = await this.readStream('api', [join(dir, STORE_FILES.api), join(dir, STORE_FILES.legacyApi)], forUpload);
    const { item } = await this.resolveHistoryItem(taskId, dir, async () => ui.entries, []);
    const keyed: TaskSnapshot['keyed'] = {};
    if (ui.parsed) keyed.ui = ui.parsed.keyed.slice();
    if (api.parsed) keyed.api = api.parsed.keyed.slice();
    // The api version is that of the file writes go to (api_conversation_history.json).
    const apiVersion = api.path === join(dir, STORE_FILES.api) ? api.version : await fileVersion(join(dir, STORE_FILES.api));
    return { source: this.source, taskId, ui: ui.entries, api: api.entries, historyItem: item, keyed, read: { ui: ui.version, api: apiVersion } };
  }

  /**
   * The first of `paths` that exists, parsed incrementally against its last read (entries
   * keyed and hashed). A file the incremental parser refuses is read the plain way, which
   * throws STORE_CORRUPT_JSON with path and reason when the file is really broken. `forUpload`
   * (ReadTaskOptions): a new parse notes each entry's JSON text and is not kept in the cache
   * (its notes hold the file's text; a migration reads each file once anyway).
   */
  private async readStream(
    stream: StreamName,
    paths: readonly string[],
    forUpload = false,
  ): Promise<{ entries: unknown[]; parsed?: ParsedStream; path?: string; version: string | null }> {
    for (const path of paths) {
      // Still the version last read or written here: its parse stands, nothing to read.
      const cached = this.parsedStreams.get(path);
      if (cached?.version && cached.version === (await fileVersion(path))) {
        return this.handOut({ entries: cached.entries as unknown[], parsed: cached, path, version: cached.version });
      }
      const file = await readFileVersioned(path);
      if (file === null) {
        this.parsedStreams.delete(path);
        continue;
      }
      const { bytes, version } = file;
      try {
        const parsed = { ...parseStreamText(stream, bytes.toString('utf8'), cached, { noteJson: forUpload }), version };
        if (!forUpload) this.parsedStreams.set(path, parsed);
        return this.handOut({ entries: parsed.entries as unknown[], parsed, path, version });
      } catch {
        this.parsedStreams.delete(path);
        return this.handOut({ entries: parseStoreJson(path, bytes, expectArray) as unknown[], path, version });
      }
    }
    return { entries: [], version: null };
  }

  /**
   * A copy of the entry list for the caller (the cached parse stays as read), remembered with
   * the file and version it came from (see replaceStream).
   */
  private handOut<T extends { entries: unknown[]; path?: string; version: string | null }>(read: T): T {
    const entries = read.entries.slice();
    if (read.path && read.version) this.handedOut.set(entries, { path: read.path, version: read.version });
    return { ...read, entries };
  }

  /**
   * Every task with its HistoryItem and every problem found, without throwing on bad data.
   * Shallow by default: message files are parsed only when a HistoryItem must be rebuilt.
   */
  async scan(options: ScanOptions = {}): Promise<TaskStoreScan> {
    const problems: StoreProblem[] = [];
    if (this.index) {
      try {
        await this.index.entries();
      } catch (error) {
        problems.push(problemOf(error, this.index.path));
      }
    }
    if (this.legacyIndex) {
      try {
        await this.legacyIndex.entries();
      } catch (error) {
        problems.push(problemOf(error, this.legacyIndex.path));
      }
    }
    const tasks: ScannedTask[] = [];
    for (const taskId of await this.listTaskIds()) {
      const dir = this.taskDir(taskId);
      let ui: unknown[] | null = null;
      const loadUi = async () => (ui ??= await this.readUi(dir));
      try {
        if (options.deep) {
          await loadUi();
          await this.readApi(dir);
        }
        const resolved = await this.resolveHistoryItem(taskId, dir, loadUi, problems);
        tasks.push({ taskId, historyItem: resolved.item, origin: resolved.origin });
      } catch (error) {
        problems.push(problemOf(error, dir));
        tasks.push({ taskId, historyItem: null, origin: 'none' });
      }
    }
    return { tasks, problems };
  }

  async writeTask(task: TaskSnapshot): Promise<void> {
    checkSnapshot(task, this.source);
    await this.index?.assertWritable();
    const { item } = await this.writeTaskFiles(task);
    if (item !== null) await this.index?.update(task.taskId, item);
  }

  /**
   * Writes several tasks like writeTask (up to TASK_WRITE_CONCURRENCY at once), with one update of the index for all of them (a
   * backfill of thousands of tasks would otherwise rewrite the whole index once per task). A
   * task that fails (a live lock held too long, say) is reported and left out of the index;
   * the others are written. A TaskFilesJson's text is written as it is.
   */
  async writeTasks(tasks: readonly TaskWrite[]): Promise<WriteTasksResult> {
    for (const task of tasks) {
      if (isFilesJson(task)) checkFilesJson(task, this.source);
      else checkSnapshot(task, this.source);
    }
    await this.index?.assertWritable();
    const failed: Array<{ taskId: TaskId; error: unknown }> = [];
    const items: Array<[string, HistoryItem]> = [];
    let bytes = 0;
    // Several tasks at once: each file write waits on its fsyncs, which overlap on the disk.
    const written = await mapConcurrent(tasks, TASK_WRITE_CONCURRENCY, async (task) => {
      try {
        return { task, ...(await this.writeTaskFiles(task)) };
      } catch (error) {
        return { task, error };
      }
    });
    for (const w of written) {
      if ('error' in w) failed.push({ taskId: w.task.taskId, error: w.error });
      else {
        bytes += w.bytes;
        if (w.item !== null) items.push([w.task.taskId, w.item]);
      }
    }
    await this.index?.updateMany(items);
    return { failed, bytes };
  }

  /**
   * A task's ui, api and history_item.json; returns the HistoryItem its index entry gets (null:
   * none) and the bytes of its ui and api files.
   */
  private async writeTaskFiles(task: TaskWrite): Promise<{ item: HistoryItem | null; bytes: number }> {
    const dir = this.taskDir(task.taskId);
    await mkdir(dir, { recursive: true });
    if (isFilesJson(task)) {
      const bytes = (await this.replaceStreamJson(join(dir, STORE_FILES.ui), task.ui.json)) + (await this.replaceStreamJson(join(dir, STORE_FILES.api), task.api.json));
      if (this.layout.kind === 'roo') await this.replaceJson(join(dir, STORE_FILES.historyItem), task.historyItem);
      return { item: task.historyItem, bytes };
    }
    const bytes = (await this.replaceStream('ui', join(dir, STORE_FILES.ui), task.ui, task.read?.ui)) + (await this.replaceStream('api', join(dir, STORE_FILES.api), task.api, task.read?.api));
    // No HistoryItem given: keep the one the store has (never replace it with less), else rebuild.
    const item = task.historyItem ?? (await this.existingHistoryItem(task.taskId, dir)) ?? (await this.rebuild(task.taskId, dir, task.ui));
    if (item === null) return { item, bytes };
    if (this.layout.kind === 'roo') await this.replaceJson(join(dir, STORE_FILES.historyItem), item);
    return { item, bytes };
  }

  async deleteTask(taskId: TaskId): Promise<void> {
    const dir = this.taskDir(taskId);
    // Index first: a task listed without a folder is dropped by the assistant, a folder without
    // an entry would come back on its next rebuild.
    await this.index?.assertWritable();
    await this.index?.update(taskId, null);
    await rm(dir, { recursive: true, force: true });
  }

  private async readUi(dir: string): Promise<unknown[]> {
    return ((await readStoreJson(join(dir, STORE_FILES.ui), expectArray)) as unknown[] | null) ?? [];
  }

  /** api_conversation_history.json, else the legacy claude_messages.json, else empty. */
  private async readApi(dir: string): Promise<unknown[]> {
    const current = (await readStoreJson(join(dir, STORE_FILES.api), expectArray)) as unknown[] | null;
    if (current !== null) return current;
    return ((await readStoreJson(join(dir, STORE_FILES.legacyApi), expectArray)) as unknown[] | null) ?? [];
  }

  /**
   * history_item.json (Roo layout), else the index entry, else rebuilt from the ui messages.
   * A corrupt history_item.json throws; a corrupt or mismatched index is a problem, not an error.
   */
  private async resolveHistoryItem(
    taskId: TaskId,
    dir: string,
    loadUi: () => Promise<unknown[]>,
    problems: StoreProblem[],
  ): Promise<ResolvedHistoryItem> {
    if (this.layout.kind === 'roo') {
      const path = join(dir, STORE_FILES.historyItem);
      const item = (await readStoreJson(path, expectObject)) as HistoryItem | null;
      if (item !== null) {
        if (item.id === taskId) return { item, origin: 'history_item' };
        problems.push({ code: STORE_ERROR_CODES.historyItemMismatch, path, reason: `names task ${JSON.stringify(item.id)}, not its folder ${taskId}` });
      }
    }
    if (this.index) {
      try {
        const entry = (await this.index.entries())?.get(taskId);
        if (entry) return { item: entry, origin: 'index' };
      } catch {
        // Reported once by scan(); a corrupt index must not make single tasks unreadable.
      }
    }
    if (this.legacyIndex) {
      try {
        const entry = (await this.legacyIndex.entries())?.get(taskId);
        if (entry) return { item: entry, origin: 'legacy-index' };
      } catch {
        // Reported once by scan(), like a corrupt index.
      }
    }
    const item = await this.rebuild(taskId, dir, await loadUi());
    return item ? { item, origin: 'rebuilt' } : { item: null, origin: 'none' };
  }

  /** The HistoryItem already in history_item.json or the index, or null (unreadable counts as none). */
  private async existingHistoryItem(taskId: TaskId, dir: string): Promise<HistoryItem | null> {
    try {
      const resolved = await this.resolveHistoryItem(taskId, dir, async () => [], []);
      return resolved.origin === 'history_item' || resolved.origin === 'index' || resolved.origin === 'legacy-index' ? resolved.item : null;
    } catch {
      return null;
    }
  }

  private async rebuild(taskId: string, dir: string, ui: readonly unknown[]): Promise<HistoryItem | null> {
    const size = (await fileSize(join(dir, STORE_FILES.ui))) + (await fileSize(join(dir, STORE_FILES.api)));
    const extra: Record<string, unknown> = this.layout.kind === 'roo' ? { number: 0, size } : { size };
    return rebuildHistoryItem(taskId, ui, extra);
  }

  /**
   * replaceJson for a ui or api file. Entries handed out by readTask from this file, which is
   * still at that version, are already on disk: nothing is written. What it writes goes into
   * the stream cache under the new version, so the next read (the watcher's echo of this write,
   * the next page) does not read the file again; it is parsed then, not here (a backfill never
   * reads back what it wrote).
   */
  private async replaceStream(stream: StreamName, path: string, entries: readonly unknown[], expected?: string | null): Promise<number> {
    const handed = this.handedOut.get(entries);
    return withFileLock(path, this.lock, async () => {
      const now = await fileVersion(path);
      // The list readTask handed out, the file still at that version: nothing to write.
      if (handed && handed.path === path && handed.version === now) return 0;
      const text = JSON.stringify(entries);
      const version = await this.replaceTextLocked(path, text, expected, now);
      if (version !== null) this.parsedStreams.setWritten(path, stream, text, version);
      return Buffer.byteLength(text);
    });
  }

  /**
   * A ui or api file replaced with `json` as it is (TaskFilesJson), like replaceJson: under the
   * file's lock, a corrupt file in the way kept beside it. Nothing goes into the stream cache (it
   * holds parsed text; the next read parses the file). Returns the bytes of `json`.
   */
  private async replaceStreamJson(path: string, json: Uint8Array): Promise<number> {
    await withFileLock(path, this.lock, () => this.replaceTextLocked(path, json, undefined, undefined));
    return json.length;
  }

  /**
   * Replaces `path` with `value` as compact JSON under the file's lock, unless it already holds
   * exactly that. With `expected` (a version stamp from readFileVersioned, null: absent), only
   * while the file is still that version: otherwise STORE_CHANGED, nothing written. A corrupt
   * file in the way is kept beside it (`<name>.corrupt-<ts>`), not lost. Returns the bytes of
   * the JSON text.
   */
  private async replaceJson(path: string, value: unknown, expected?: string | null): Promise<number> {
    const text = JSON.stringify(value);
    await withFileLock(path, this.lock, async () => this.replaceTextLocked(path, text, expected, expected === undefined ? undefined : await fileVersion(path)));
    return Buffer.byteLength(text);
  }

  /**
   * replaceJson's work on the JSON `text`, the lock held and the file's version `before` taken
   * (undefined: not needed). Returns the file's new version (null: the file already held
   * exactly `text`, nothing written).
   */
  private async replaceTextLocked(
    path: string,
    text: string | Uint8Array,
    expected: string | null | undefined,
    before: string | null | undefined,
  ): Promise<string | null> {
    // The file is the version read (and parsed) before: not corrupt, no need to read it again.
    if (expected !== undefined && expected !== null && before === expected) return writeFileAtomic(path, text);
    const existing = await readFileIfExists(path);
    // Compared only when the lengths match (no copy of a text that cannot be equal).
    const length = typeof text === 'string' ? Buffer.byteLength(text) : text.length;
    if (existing !== null && existing.length === length && existing.equals(typeof text === 'string' ? Buffer.from(text) : text)) return null;
    if (expected !== undefined && before !== expected) {
      throw new SyncError(STORE_ERROR_CODES.changed, `${path} was rewritten while roo-sync merged it; it reads and merges again`, { path });
    }
    if (existing !== null) {
      try {
        parseStoreJson(path, existing);
      } catch (error) {
        if (!isSyncError(error, STORE_ERROR_CODES.corruptJson)) throw error;
        await rename(path, `${path}.corrupt-${this.now()}`);
      }
    }
    return writeFileAtomic(path, text);
  }
}

/** True when `task` carries its files' text (TaskFilesJson), not entries. */
export function isFilesJson(task: TaskWrite): task is TaskFilesJson {
  return 'kind' in task && task.kind === 'files-json';
}

/** Throws STORE_INVALID_SNAPSHOT unless `task` can be written to a store of `source` (as checkSnapshot). */
function checkFilesJson(task: TaskFilesJson, source: TaskSource): void {
  checkSnapshot({ source: task.source, taskId: task.taskId, ui: [], api: [], historyItem: task.historyItem }, source);
  for (const stream of ['ui', 'api'] as const) {
    const json = task[stream].json;
    if (!(json instanceof Uint8Array) || json.length < 2 || json[0] !== 0x5b || json[json.length - 1] !== 0x5d) {
      throw new SyncError(STORE_ERROR_CODES.invalidSnapshot, `task ${task.taskId}: ${stream} is not the text of a JSON array`, { taskId: task.taskId, reason: `${stream} is not a JSON array` });
    }
  }
}

/** What writeTasks did: the tasks that failed, and the bytes of the ui and api files of the others. */
export interface WriteTasksResult {
  failed: Array<{ taskId: TaskId; error: unknown }>;
  bytes: number;
}

function problemOf(error: unknown, path: string): StoreProblem {
  if (isSyncError(error)) {
    const details = error.details ?? {};
    return { code: error.code, path: typeof details['path'] === 'string' ? details['path'] : path, reason: typeof details['reason'] === 'string' ? details['reason'] : error.message };
  }
  return { code: STORE_ERROR_CODES.io, path, reason: error instanceof Error ? error.message : String(error) };
}

/** Files whose presence makes a folder a task (one with only checkpoints/ or command-output/ is not). */
/** Tasks writeTasks writes at once. */
const TASK_WRITE_CONCURRENCY = 8;

const TASK_FILES = new Set<string>([STORE_FILES.ui, STORE_FILES.api, STORE_FILES.legacyApi, STORE_FILES.historyItem]);

/**
 * True when `dir` holds a task's files. With a custom storage path, the default folder keeps
 * `tasks/<id>/checkpoints` only; those folders are not tasks of that store.
 */
async function hasTaskFiles(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).some((name) => TASK_FILES.has(name));
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT') || isErrnoCode(error, 'ENOTDIR')) return false;
    throw error;
  }
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}
