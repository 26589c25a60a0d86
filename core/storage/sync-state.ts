/**
 * The device's sync state: what it last synced, so that local changes are found by diffing the
 * store against it (DESIGN.md "Data model") and remote changes are applied in order.
 *
 * Kept per device, persisted through a `SyncStateStore` (in memory for tests, a JSON file in
 * core/node/storage). The persisted form is compact: tuples instead of objects, so thousands of
 * tasks with thousands of entries each stay a few bytes per entry.
 *
 * Paged by task: a store that offers `loadPaged` leaves the saved task states where they are and
 * the state reads each one when it is first used; `trim` forgets saved, unchanged ones again, so
 * the tasks in memory are a working set (a migration's slice) whatever the number of tasks.
 */
import { SyncError } from '../errors';
import type { TaskId, WorkspaceId } from '../ids';
import {
  compareEntryKeys,
  STREAM_NAMES,
  TASK_SOURCES,
  type EntryKey,
  type HlcStamp,
  type ServerChange,
  type StreamName,
  type TaskDeleteBody,
  type TaskMetaBody,
  type TaskSource,
} from '../model/changes';
import { StorageErrorCode } from './storage-errors';

/** One synced stream entry: its key, content hash, who contributed it, and its log position. */
export interface TrackedEntryState {
  key: EntryKey;
  /** sha256 of `JSON.stringify(entry)`. */
  hash: string;
  /** True when this device contributed (pushed) the current version of the entry. */
  own: boolean;
  /** Seq of the version held, 0 while this device's own version is not yet acknowledged. */
  seq: number;
  /**
   * Hashes of the versions remote changes replaced here (oldest first, at most `PREV_LIMIT`,
   * never the current one), if any: a rewrite that brings one back is the assistant writing from
   * stale memory, not an edit (see task-detect). Memory can be several remote edits behind (a
   * partial message another device keeps rewriting), so one is not enough.
   */
  prev?: string[];
  /**
   * While this device's own version is queued and not yet acknowledged (`seq` 0): the seq of the
   * version of the entry it last saw before (absent when none). Sent as the put's `baseSeq`, so
   * a device whose version the put replaces can tell an edit of a version seen from a concurrent
   * write (task-apply).
   */
  base?: number;
}

/** Sync state of one task: both streams, the synced HistoryItem fields and their clocks. */
export interface TaskSyncState {
  readonly source: TaskSource;
  readonly taskId: TaskId;
  readonly streams: Record<StreamName, Map<EntryKey, TrackedEntryState>>;
  /** HistoryItem fields as last synced (including this device's own queued edits). */
  fields: Record<string, unknown>;
  /** HLC stamp of each field in `fields`. */
  clocks: Record<string, HlcStamp>;
  /** Seq of the latest task.meta / task.delete change seen (the base version), 0 for none. */
  metaSeq: number;
  /** Tombstone clock when the task was deleted on purpose, else null. */
  deleted: HlcStamp | null;
  /**
   * The highest clock of this device's own task.meta / task.delete changes the relay has
   * acknowledged (or sent back in a pull), null for none. An own field clock (or own tombstone)
   * above it was queued and not yet acknowledged (see outbox-recovery).
   */
  metaAcked: HlcStamp | null;
  /**
   * `stream.truncate` changes queued and not yet acknowledged, per stream in queue order (their
   * `afterKey`s), mirroring the outbox's coalescing. A truncate leaves no other trace in the
   * state (the entries are gone from it), so this is what lets a lost journal's truncate be
   * queued again.
   */
  truncates: Record<StreamName, Array<EntryKey | null>>;
  /**
   * ui entries remote truncates removed here (key -> hashes of the version removed and of the
   * versions it had replaced, its `prev`), oldest first, at most `CUT_LIMIT`: an assistant
   * writing the task from memory that predates the truncate brings them back, and detection drops
   * them instead of sending them as new messages. A ui key is the message's ts, so the same key
   * with content it had before is the same message. (api keys are positions: the same message at
   * a position again can be new, so api entries are not kept.)
   */
  cut: Map<EntryKey, string[]>;
  /**
   * Until the device has caught up with the log (SyncState.caughtUp), entries on disk that the
   * state did not track and that a pulled put of their key does not match: `<stream>/<key>` ->
   * the disk's hash (task-adopt). The put is tracked, the disk keeps its entry: a later version
   * in the log may turn out to be it (a store backfilled or copied after that version), and it
   * is then taken as that version; otherwise it is a local edit, sent once caught up.
   */
  held: Map<string, string>;
  /** HistoryItem fields held the same way (their disk value is kept until caught up). */
  heldFields: Set<string>;
}

/**
 * Pulled changes of one task not applied yet, in seq order: its files could not be read when
 * they came (a corrupt file, an entry that cannot be keyed). The task's state and files stay as
 * they were; the changes are applied, as a pull would, once the files read again
 * (core/storage/task-defer.ts).
 */
export interface WaitingList {
  changes: ServerChange[];
  /** Why the files could not be read the last time they were tried. */
  why: UnreadableReason;
}

/**
 * A record of the store's waiting log (SyncStateStore.appendWaiting): a change that waits for
 * task `k`, or (`reset`) the start of a new waiting list for it, which drops earlier records.
 */
export type WaitingRecord = { k: string; c: ServerChange } | { k: string; reset: true };

/** Why a task's files could not be read: a SyncError code, and the file and reason when known. */
export interface UnreadableReason {
  code: string;
  path?: string;
  reason?: string;
}

/** How many truncated ui entries a task remembers (`TaskSyncState.cut`). */
export const CUT_LIMIT = 64;

/** Remembers that a remote truncate removed `entry` (a ui entry) here. */
export function noteCut(task: TaskSyncState, entry: TrackedEntryState): void {
  task.cut.delete(entry.key);
  task.cut.set(entry.key, [...(entry.prev ?? []), entry.hash]);
  for (const key of task.cut.keys()) {
    if (task.cut.size <= CUT_LIMIT) break;
    task.cut.delete(key);
  }
}

/**
 * Sync state of one workspace file: the manifest entry this device last synced (what local
 * detection compares the disk against) and the base version (the latest version the relay
 * accepted that this device knows: the base of a three-way merge and of `baseSeq`).
 */
export interface FileSyncState {
  readonly workspaceId: WorkspaceId;
  readonly path: string;
  /** Content hash last seen on disk and synced (queued or applied). */
  hash: string;
  size: number;
  mode: number;
  mtime: number;
  binary: boolean;
  /** True when the file was last synced as deleted. */
  deleted: boolean;
  /** Content hash of the base version ('' when none or when the base is a deletion). */
  baseHash: string;
  /** Seq of the base version, 0 when none. */
  baseSeq: number;
  baseDeleted: boolean;
  /**
   * Seq of the newest remote change to this file that applying skipped because a local change
   * was queued (or on disk, not yet queued) for it; absent when none. The two were to meet at the
   * relay as a conflict: while it is above `baseSeq` that has not happened, so when the queued
   * change is lost with its journal the file counts as unsent (outbox-recovery) even if its
   * local version equals the base, else the device would never get the skipped version.
   */
  skippedSeq?: number;
}

/** A page of remote changes being applied: replayed on open when a crash cut the apply short. */
export interface ApplyJournal {
  changes: ServerChange[];
  /** The cursor to store once the page is applied. */
  cursor: number;
}

/** A file conflict that needed a conflict copy; shown to the user until resolved. */
export interface FileConflictRecord {
  workspaceId: WorkspaceId;
  path: string;
  /** Where the other version was written. */
  copyPath: string;
  /** Content hash kept at `path` and the one written to `copyPath`. */
  keptHash: string;
  copyHash: string;
  kind: 'text' | 'binary';
  /** Device whose version went into the copy. */
  copyFrom: string;
  at: number;
}

/**
 * `[key, hash, own, seq]`, then `prev` (its hashes joined by spaces, or null) when it or `base` is
 * set, then `base` when set.
 */
type TrackedTuple = [EntryKey, string, number, number] | [EntryKey, string, number, number, string | null] | [EntryKey, string, number, number, string | null, number];

/** How many replaced versions an entry remembers (`TrackedEntryState.prev`). */
export const PREV_LIMIT = 8;

/**
 * `prev` of an entry whose version `tracked` a remote change replaces with `hash`: the versions
 * it remembered plus the one replaced, without `hash`, the newest `PREV_LIMIT`.
 */
export function replacedVersions(tracked: TrackedEntryState | undefined, hash: string): string[] | undefined {
  if (!tracked) return undefined;
  const list = [...(tracked.prev ?? []), tracked.hash].filter((h, i, all) => h !== hash && all.lastIndexOf(h) === i);
  return list.length > 0 ? list.slice(-PREV_LIMIT) : undefined;
}
/** `[hash, size, mode, mtime, flags, baseHash, baseSeq]`, then `skippedSeq` when above `baseSeq`. */
type FileTuple = [string, number, number, number, number, string, number] | [string, number, number, number, number, string, number, number];

/** The persisted form of one task's sync state. */
export interface PersistedTask {
  ui: TrackedTuple[];
  api: TrackedTuple[];
  f: Record<string, unknown>;
  c: Record<string, HlcStamp>;
  ms: number;
  del: HlcStamp | null;
  /** `metaAcked`; absent in states from before it (then every clock held counts as acknowledged). */
  ma?: HlcStamp | null;
  /** `truncates`, only the streams that have some. */
  pt?: Partial<Record<StreamName, Array<EntryKey | null>>>;
  /** `cut` as `[key, hashes joined by spaces]` pairs, when not empty. */
  pc?: Array<[EntryKey, string]>;
  /** `held` as `[<stream>/<key>, hash]` pairs, when not empty. */
  hd?: Array<[string, string]>;
  /** `heldFields`, when not empty. */
  hf?: string[];
}

/** The persisted, JSON-safe form of the sync state. */
export interface PersistedSyncState {
  v: 1;
  cursor: number;
  /** key `<source>/<taskId>` */
  tasks: Record<string, PersistedTask>;
  /** key `<workspaceId>\n<path>` -> [hash, size, mode, mtime, flags(1 binary, 2 deleted, 4 base deleted), baseHash, baseSeq, skippedSeq?] */
  files: Record<string, FileTuple>;
  conflicts: FileConflictRecord[];
  /** Latest HLC stamp issued or received, so a restarted clock never goes back. */
  clock: HlcStamp | null;
  journal: ApplyJournal | null;
  /** Outbox.journalId of the journal this state queued into (absent: unknown). */
  ob?: string | null;
  /** True once a pull reached the head of the log (absent, in a state saved before: `cursor > 0`). */
  up?: boolean;
  /**
   * The tasks whose pulled changes wait (`SyncState.waiting`), each with why, when any; the
   * changes themselves are in the store's waiting log.
   */
  dw?: Record<string, UnreadableReason>;
}

/** Everything of the persisted state except the tasks (small: written on every save). */
export type PersistedHeader = Omit<PersistedSyncState, 'tasks'>;

/**
 * The saved task states of a paged load: every key, and one state read when asked (synchronous,
 * so a task is paged in where the engine first touches it; it throws STORAGE_STATE_IO or
 * STORAGE_STATE_CORRUPT; null: no such task saved).
 */
export interface SavedTaskStates {
  readonly keys: Iterable<string>;
  read(key: string): PersistedTask | null;
}

/** What `SyncStateStore.loadPaged` gives: the header (null: never saved) and the saved tasks. */
export interface PagedSyncState {
  header: (PersistedHeader & { tasks?: Record<string, PersistedTask> }) | null;
  tasks: SavedTaskStates;
}

/**
 * Port: where the sync state is kept between runs. `save` replaces the whole state atomically.
 * A store may offer `saveChanges`, which writes only the tasks changed since the last save and
 * then the header: each task and the header atomically on their own, the header last. (The
 * engine's writes are idempotent, so a crash between two of them loses nothing.) A store may
 * offer `loadPaged`, which reads the header and leaves the tasks to be read one by one.
 */
export interface SyncStateStore {
  /** The last saved state, or null when none was ever saved. */
  load(): Promise<PersistedSyncState | null>;
  /** The last saved header (null when none was ever saved) and the saved tasks to page in. */
  loadPaged?(): Promise<PagedSyncState>;
  save(state: PersistedSyncState): Promise<void>;
  saveChanges?(header: PersistedHeader, tasks: ReadonlyMap<string, PersistedTask>): Promise<void>;
  /**
   * The waiting log (task-defer): records appended durably, in order, before the header that
   * names their tasks is saved, so a waiting list costs its own size once, not once per save.
   * `loadWaiting` gives every record appended since the last `replaceWaiting` (a record cut
   * short by a crash at the end is left out); `replaceWaiting` swaps the whole log atomically.
   */
  appendWaiting(records: readonly WaitingRecord[]): Promise<void>;
  loadWaiting(): Promise<WaitingRecord[]>;
  replaceWaiting(records: readonly WaitingRecord[]): Promise<void>;
}

/**
 * A SyncStateStore in memory; keeps serialised copies so later mutations never leak into it.
 * Offers `saveChanges` like the file store, so simulations exercise incremental saving.
 */
export class MemorySyncStateStore implements SyncStateStore {
  private header: string | null = null;
  private readonly tasks = new Map<string, string>();
  /** Number of completed saves (tests use it to observe persistence). */
  saves = 0;

  async load(): Promise<PersistedSyncState | null> {
    if (this.header === null) return null;
    const tasks: Record<string, PersistedTask> = {};
    for (const [key, text] of this.tasks) tasks[key] = JSON.parse(text) as PersistedTask;
    return { ...(JSON.parse(this.header) as PersistedHeader), tasks };
  }

  async save(state: PersistedSyncState): Promise<void> {
    const { tasks, ...header } = state;
    this.tasks.clear();
    for (const [key, task] of Object.entries(tasks)) this.tasks.set(key, JSON.stringify(task));
    this.header = JSON.stringify(header);
    this.saves++;
  }

  async saveChanges(header: PersistedHeader, tasks: ReadonlyMap<string, PersistedTask>): Promise<void> {
    for (const [key, task] of tasks) this.tasks.set(key, JSON.stringify(task));
    this.header = JSON.stringify(header);
    this.saves++;
  }

  private waitingLog: string[] = [];

  async appendWaiting(records: readonly WaitingRecord[]): Promise<void> {
    for (const record of records) this.waitingLog.push(JSON.stringify(record));
  }

  async loadWaiting(): Promise<WaitingRecord[]> {
    return this.waitingLog.map((text) => JSON.parse(text) as WaitingRecord);
  }

  async replaceWaiting(records: readonly WaitingRecord[]): Promise<void> {
    this.waitingLog = records.map((record) => JSON.stringify(record));
  }

  /** Records in the waiting log (tests). */
  get waitingRecords(): number {
    return this.waitingLog.length;
  }

  async loadPaged(): Promise<PagedSyncState> {
    const saved = this.tasks;
    return {
      header: this.header === null ? null : (JSON.parse(this.header) as PersistedHeader),
      tasks: {
        keys: [...saved.keys()],
        read: (key) => {
          const text = saved.get(key);
          return text === undefined ? null : (JSON.parse(text) as PersistedTask);
        },
      },
    };
  }
}

/** Tasks a state keeps in memory after `trim` when no bound is given. */
export const TASKS_IN_MEMORY = 64;

export const taskStateKey = (source: TaskSource, taskId: TaskId | string): string => `${source}/${taskId}`;

/** The source and task id a `taskStateKey` names (the source is not checked). */
export function taskOfStateKey(key: string): { source: TaskSource; taskId: string } {
  const slash = key.indexOf('/');
  return { source: key.slice(0, slash) as TaskSource, taskId: key.slice(slash + 1) };
}
export const fileStateKey = (workspaceId: WorkspaceId | string, path: string): string => `${workspaceId}\n${path}`;

/** The live, mutable sync state of one device. */
export class SyncState {
  /** Highest log seq applied locally; pulls continue after it. */
  cursor = 0;
  /**
   * True once a pull has reached the head of the log: until then, what the stores hold of the
   * relay's tasks may still be in pages not pulled yet (see HybridStorage.caughtUp).
   */
  caughtUp = false;
  /** Task states in memory, least recently used first. */
  private readonly loaded = new Map<string, TaskSyncState>();
  /** Saved task states that can be paged in (their keys), or null when nothing is paged. */
  private saved: { keys: Set<string>; read: SavedTaskStates['read'] } | null = null;
  readonly files = new Map<string, FileSyncState>();
  readonly conflicts: FileConflictRecord[] = [];
  /** Latest HLC stamp issued or received. */
  clock: HlcStamp | null = null;
  /** The page being applied, persisted before the stores are written. */
  journal: ApplyJournal | null = null;
  /**
   * `Outbox.journalId` of the outbox this state's queued changes went into, null when unknown.
   * HybridStorage compares it on open: a different journal may lack what the state tracks as queued.
   */
  outboxId: string | null = null;
  /**
   * The tasks whose pulled changes wait until their files can be read (task-defer), by
   * `taskStateKey`. Change it through `setWaiting` / `clearWaiting`, which keep the waiting log.
   */
  readonly waiting = new Map<string, WaitingList>();
  /** Records for the store's waiting log not saved yet. */
  private waitingAppends: WaitingRecord[] = [];
  /** Records in the store's waiting log (it is compacted when far above what waits). */
  private waitingLogSize = 0;
  /** The waiting tasks a loaded header names, with why, until `loadWaiting` folds their changes in. */
  waitingReasons: Record<string, UnreadableReason> | null = null;

  /**
   * Sets what waits for the task `key` (changes in seq order, none empty) and why; the changes
   * new to it go to the waiting log at the next save (a list that starts afresh first drops
   * whatever an earlier one left in the log).
   */
  setWaiting(key: string, list: WaitingList): void {
    const before = this.waiting.get(key);
    if (!before) this.waitingAppends.push({ k: key, reset: true });
    const known = new Set(before?.changes.map((c) => c.seq));
    for (const change of list.changes) if (!known.has(change.seq)) this.waitingAppends.push({ k: key, c: change });
    this.waiting.set(key, list);
  }

  /** Nothing waits for the task `key` any more (once saved, the header no longer names it). */
  clearWaiting(key: string): void {
    this.waiting.delete(key);
  }

  /** Folds the store's waiting log into `waiting`, for the tasks the header names (see load). */
  foldWaiting(records: readonly WaitingRecord[]): void {
    const reasons = this.waitingReasons ?? {};
    this.waitingReasons = null;
    this.waitingLogSize = records.length;
    const lists = new Map<string, Map<number, ServerChange>>();
    for (const record of records) {
      if (!Object.prototype.hasOwnProperty.call(reasons, record.k)) continue;
      if ('reset' in record) lists.set(record.k, new Map());
      else {
        const list = lists.get(record.k) ?? new Map<number, ServerChange>();
        list.set(record.c.seq, record.c);
        lists.set(record.k, list);
      }
    }
    for (const [key, list] of lists) {
      if (list.size > 0) this.waiting.set(key, { changes: [...list.values()].sort((a, b) => a.seq - b.seq), why: reasons[key]! });
    }
    // A waiting task without its changes (the log lost or cut back): the cursor is past them, so
    // everything is pulled again from the start (applying is idempotent); the task waits anew.
    if (Object.keys(reasons).some((key) => !this.waiting.has(key))) {
      this.cursor = 0;
      this.pullFromStart = true;
    }
  }

  /**
   * Set on load when the cursor went back to 0 because waiting changes were missing (see
   * foldWaiting): a journal replayed on open must not move it forward again.
   */
  pullFromStart = false;
  /** Tasks changed since the last save; null when everything must be written. */
  private dirty: Set<string> | null = null;
  /**
   * Tasks being detected while other work may save (see `hold`), each with its persisted form
   * from before (null: it had none): saves write that form, never the one being changed.
   */
  private readonly held = new Map<string, PersistedTask | null>();
  /**
   * Seqs above the cursor that the relay gave this device's own changes (memory only: after a
   * restart a pull brings them back, and applying them again changes nothing).
   */
  private readonly ownAhead = new Set<number>();

  /**
   * Notes seqs the relay gave this device's own changes (their acks are recorded already) and
   * moves the cursor over those that follow it directly: pulling them back would only download
   * what this device sent (a device whose cursor stayed behind its own pushes fetched them all
   * again at every poll).
   */
  noteOwnSeqs(seqs: Iterable<number>): void {
    for (const seq of seqs) if (seq > this.cursor) this.ownAhead.add(seq);
    this.skipOwn();
  }

  /** Moves the cursor over noted own seqs that follow it directly (call after it advanced). */
  skipOwn(): void {
    while (this.ownAhead.delete(this.cursor + 1)) this.cursor++;
    for (const seq of this.ownAhead) if (seq <= this.cursor) this.ownAhead.delete(seq);
  }

  /** The task's state, or undefined when never synced (a saved one is paged in). */
  getTask(source: TaskSource, taskId: TaskId | string): TaskSyncState | undefined {
    const key = taskStateKey(source, taskId);
    return this.inMemory(key) ?? this.pageIn(key);
  }

  /** The task state in memory under `key`, now the most recently used one. */
  private inMemory(key: string): TaskSyncState | undefined {
    const task = this.loaded.get(key);
    if (task && this.saved) {
      this.loaded.delete(key);
      this.loaded.set(key, task);
    }
    return task;
  }

  /** Number of tasks the state tracks, in memory or saved. */
  get taskCount(): number {
    if (!this.saved) return this.loaded.size;
    let count = this.saved.keys.size;
    for (const key of this.loaded.keys()) if (!this.saved.keys.has(key)) count++;
    return count;
  }

  /**
   * Every task state, those in memory first, then the saved ones, read one at a time and not
   * kept (a caller that changes one calls `markDirty`, which keeps it until saved).
   */
  *allTasks(): Generator<TaskSyncState> {
    const inMemory = new Map(this.loaded);
    yield* inMemory.values();
    if (!this.saved) return;
    for (const key of [...this.saved.keys]) {
      if (inMemory.has(key)) continue;
      // Paged in by the caller meanwhile: that object, not a second copy.
      const task = this.loaded.get(key) ?? this.readSaved(key);
      if (task) yield task;
    }
  }

  /**
   * Forgets task states beyond `keep` (the least recently used first) that are saved and unchanged
   * since: they are read again when next used. A state that is not paged keeps everything.
   */
  trim(keep = TASKS_IN_MEMORY): void {
    if (!this.saved || this.dirty === null) return;
    for (const key of this.loaded.keys()) {
      if (this.loaded.size <= keep) break;
      if (this.dirty.has(key) || !this.saved.keys.has(key)) continue;
      this.loaded.delete(key);
    }
  }

  /** Number of task states in memory (tests and measurements). */
  get tasksInMemory(): number {
    return this.loaded.size;
  }

  /** Reads a saved task state into memory, or undefined when none is saved under `key`. */
  private pageIn(key: string): TaskSyncState | undefined {
    if (!this.saved?.keys.has(key)) return undefined;
    const task = this.readSaved(key);
    if (task) this.loaded.set(key, task);
    return task;
  }

  private readSaved(key: string): TaskSyncState | undefined {
    const raw = this.saved!.read(key);
    return raw === null ? undefined : parseTask(key, raw);
  }

  /** The task's state, created empty on first use. */
  task(source: TaskSource, taskId: TaskId): TaskSyncState {
    const key = taskStateKey(source, taskId);
    let state = this.inMemory(key) ?? this.pageIn(key);
    if (!state) {
      state = emptyTask(source, taskId);
      this.loaded.set(key, state);
      this.dirty?.add(key);
    }
    return state;
  }

  /** Notes that a task's state changed, so the next incremental save writes it (and keeps it in memory until then). */
  markDirty(task: TaskSyncState): void {
    const key = taskStateKey(task.source, task.taskId);
    if (!this.loaded.has(key)) this.loaded.set(key, task);
    this.dirty?.add(key);
  }

  /**
   * Keeps saves from writing these tasks' states as they change until `release`: a save meanwhile
   * writes each one as it is now. A detection holds the tasks it changes until their changes are
   * queued durably, so that a save made meanwhile (a push reply settled) never records a change
   * as queued that the outbox does not hold yet.
   */
  hold(tasks: ReadonlyArray<{ source: TaskSource; taskId: TaskId | string }>): void {
    for (const { source, taskId } of tasks) {
      const key = taskStateKey(source, taskId);
      if (this.held.has(key)) continue;
      const task = this.getTask(source, taskId);
      this.held.set(key, task ? persistTask(task) : null);
    }
  }

  /** Ends `hold`: the next save writes these tasks as they are (they stay dirty until then). */
  release(tasks: ReadonlyArray<{ source: TaskSource; taskId: TaskId | string }>): void {
    for (const { source, taskId } of tasks) {
      const key = taskStateKey(source, taskId);
      if (!this.held.delete(key)) continue;
      const task = this.loaded.get(key);
      if (task) this.markDirty(task);
    }
  }

  /** Saves through `store`: only the changed tasks when the store can, else everything. Held tasks are saved as they were (see `hold`). */
  /**
   * Saves the state. Saves run one at a time, in call order: a header must never be written while
   * an earlier save's waiting records are not yet durable (they may still fail).
   */
  saveTo(store: SyncStateStore): Promise<void> {
    const run = this.saving.then(() => this.saveNow(store));
    this.saving = run.catch(() => undefined);
    return run;
  }

  private saving: Promise<void> = Promise.resolve();

  private async saveNow(store: SyncStateStore): Promise<void> {
    // Waiting changes are durable before a header that names their tasks (and moves the cursor past them).
    const appends = this.waitingAppends;
    this.waitingAppends = [];
    if (appends.length > 0) {
      try {
        await store.appendWaiting(appends);
      } catch (err) {
        this.waitingAppends = [...appends, ...this.waitingAppends];
        throw err;
      }
      this.waitingLogSize += appends.length;
    }
    await this.saveTasksAndHeader(store);
    // Saved: the log's live part is what waits now. Rewritten once it is mostly dead records.
    const live = [...this.waiting.values()].reduce((n, list) => n + 1 + list.changes.length, 0);
    if (this.waitingLogSize > 4 * live + 256) {
      const records: WaitingRecord[] = [];
      for (const [k, list] of this.waiting) records.push({ k, reset: true }, ...list.changes.map((c) => ({ k, c })));
      await store.replaceWaiting(records);
      this.waitingLogSize = records.length;
    }
  }

  private async saveTasksAndHeader(store: SyncStateStore): Promise<void> {
    if (!store.saveChanges || this.dirty === null) {
      const dirty = new Set<string>(this.held.keys());
      await store.save(this.toPersisted());
      this.dirty = dirty;
      this.noteSaved([...this.loaded.keys()].filter((key) => !this.held.has(key)));
      return;
    }
    const changed = new Map<string, PersistedTask>();
    const dirty = this.dirty;
    this.dirty = new Set();
    for (const key of dirty) {
      if (this.held.has(key)) {
        this.dirty.add(key);
        continue;
      }
      const task = this.loaded.get(key);
      if (task) changed.set(key, persistTask(task));
    }
    try {
      await store.saveChanges(this.toPersistedHeader(), changed);
    } catch (err) {
      for (const key of dirty) this.dirty.add(key);
      throw err;
    }
    this.noteSaved(changed.keys());
  }

  /** Tasks now saved in the store this state pages from (so `trim` may forget them). */
  private noteSaved(keys: Iterable<string>): void {
    if (this.saved) for (const key of keys) this.saved.keys.add(key);
  }

  getFile(workspaceId: WorkspaceId | string, path: string): FileSyncState | undefined {
    return this.files.get(fileStateKey(workspaceId, path));
  }

  setFile(file: FileSyncState): void {
    this.files.set(fileStateKey(file.workspaceId, file.path), file);
  }

  /** Files of one workspace. */
  filesOf(workspaceId: WorkspaceId): FileSyncState[] {
    return [...this.files.values()].filter((f) => f.workspaceId === workspaceId);
  }

  /** The persisted form (a fresh object; later mutations do not change it). */
  toPersisted(): PersistedSyncState {
    const tasks: PersistedSyncState['tasks'] = {};
    for (const t of this.allTasks()) {
      const key = taskStateKey(t.source, t.taskId);
      const held = this.held.get(key);
      if (held === undefined) tasks[key] = persistTask(t);
      else if (held !== null) tasks[key] = held;
    }
    return { ...this.toPersistedHeader(), tasks };
  }

  /** The persisted form of everything but the tasks. */
  toPersistedHeader(): PersistedHeader {
    const files: PersistedSyncState['files'] = {};
    for (const [key, f] of this.files) {
      const flags = (f.binary ? 1 : 0) | (f.deleted ? 2 : 0) | (f.baseDeleted ? 4 : 0);
      files[key] = [f.hash, f.size, f.mode, f.mtime, flags, f.baseHash, f.baseSeq];
      if (f.skippedSeq !== undefined && f.skippedSeq > f.baseSeq) files[key]!.push(f.skippedSeq);
    }
    return {
      v: 1,
      cursor: this.cursor,
      files,
      conflicts: structuredClone(this.conflicts),
      clock: this.clock,
      journal: this.journal === null ? null : structuredClone(this.journal),
      ob: this.outboxId,
      up: this.caughtUp,
      ...(this.waiting.size > 0 ? { dw: Object.fromEntries([...this.waiting].map(([key, list]) => [key, { ...list.why }])) } : {}),
    };
  }

  /**
   * A state over saved task states it pages in when used (`SyncStateStore.loadPaged`). Tasks the
   * header itself holds (a state saved before tasks had files of their own) are kept in memory
   * and marked changed, so the next save gives them their own; a saved file wins over them.
   */
  static fromSaved({ header, tasks: saved }: PagedSyncState): SyncState {
    const state = header === null ? new SyncState() : SyncState.fromPersisted({ ...header, tasks: header.tasks ?? {} });
    state.saved = { keys: new Set(saved.keys), read: saved.read };
    for (const key of [...state.loaded.keys()]) {
      if (state.saved.keys.has(key)) state.loaded.delete(key);
      else state.dirty!.add(key);
    }
    return state;
  }

  /** Rebuilds the state from its persisted form; throws STORAGE_STATE_CORRUPT on a bad shape. */
  static fromPersisted(data: unknown): SyncState {
    const state = new SyncState();
    if (!isRecord(data) || data.v !== 1 || !isSeq(data.cursor) || !isRecord(data.tasks) || !isRecord(data.files)) {
      throw corrupt('not a version-1 sync state');
    }
    state.cursor = data.cursor;
    state.caughtUp = typeof data.up === 'boolean' ? data.up : data.cursor > 0;
    for (const [key, raw] of Object.entries(data.tasks)) state.loaded.set(key, parseTask(key, raw));
    for (const [key, tuple] of Object.entries(data.files)) {
      const nl = key.indexOf('\n');
      if (nl < 0 || !Array.isArray(tuple) || (tuple.length !== 7 && tuple.length !== 8) || typeof tuple[0] !== 'string' || typeof tuple[5] !== 'string') {
        throw corrupt(`bad file ${JSON.stringify(key)}`);
      }
      if (tuple.length === 8 && !isSeq(tuple[7])) throw corrupt(`bad file ${JSON.stringify(key)}`);
      const [hash, size, mode, mtime, flags, baseHash, baseSeq, skippedSeq] = tuple as FileTuple;
      state.setFile({
        ...(skippedSeq !== undefined ? { skippedSeq } : {}),
        workspaceId: key.slice(0, nl) as WorkspaceId,
        path: key.slice(nl + 1),
        hash,
        size,
        mode,
        mtime,
        binary: (flags & 1) !== 0,
        deleted: (flags & 2) !== 0,
        baseHash,
        baseSeq,
        baseDeleted: (flags & 4) !== 0,
      });
    }
    if (Array.isArray(data.conflicts)) state.conflicts.push(...(data.conflicts as FileConflictRecord[]));
    state.dirty = new Set();
    state.clock = typeof data.clock === 'string' ? data.clock : null;
    state.outboxId = typeof data.ob === 'string' ? data.ob : null;
    if (data.dw !== undefined) {
      if (!isRecord(data.dw) || !Object.values(data.dw).every((why) => isRecord(why) && typeof why.code === 'string')) throw corrupt('bad waiting tasks');
      state.waitingReasons = data.dw as Record<string, UnreadableReason>;
    }
    if (data.journal !== null && data.journal !== undefined) {
      const journal = data.journal as Partial<ApplyJournal>;
      if (!isRecord(journal) || !Array.isArray(journal.changes) || !isSeq(journal.cursor)) throw corrupt('bad journal');
      state.journal = { changes: journal.changes, cursor: journal.cursor };
    }
    return state;
  }
}


/** One task's state from its persisted form; throws STATE_CORRUPT on a bad shape. */
function parseTask(key: string, raw: unknown): TaskSyncState {
  const { source, taskId } = taskOfStateKey(key);
  if (!key.includes('/') || !TASK_SOURCES.includes(source) || !isRecord(raw)) throw corrupt(`bad task ${key}`);
  const t = emptyTask(source, taskId as TaskId);
  for (const stream of STREAM_NAMES) {
    const list = raw[stream];
    if (!Array.isArray(list)) throw corrupt(`bad ${stream} list of ${key}`);
    for (const tuple of list as unknown[]) {
      if (!Array.isArray(tuple) || typeof tuple[0] !== 'string' || typeof tuple[1] !== 'string' || !isSeq(tuple[3])) {
        throw corrupt(`bad entry in ${key}`);
      }
      const entry: TrackedEntryState = { key: tuple[0], hash: tuple[1], own: tuple[2] === 1, seq: tuple[3] };
      if (typeof tuple[4] === 'string' && tuple[4] !== '') entry.prev = tuple[4].split(' ');
      if (isSeq(tuple[5]) && tuple[5] > 0) entry.base = tuple[5];
      t.streams[stream].set(tuple[0], entry);
    }
  }
  if (!isRecord(raw.f) || !isRecord(raw.c) || !isSeq(raw.ms)) throw corrupt(`bad metadata of ${key}`);
  t.fields = raw.f;
  t.clocks = raw.c as Record<string, HlcStamp>;
  t.metaSeq = raw.ms;
  t.deleted = typeof raw.del === 'string' ? raw.del : null;
  if (raw.ma === undefined) {
    // A state from before metaAcked: what it holds was treated as sent, as it was then.
    t.metaAcked = [...Object.values(t.clocks), t.deleted].reduce<HlcStamp | null>((max, c) => (typeof c === 'string' && (max === null || c > max) ? c : max), null);
  } else if (raw.ma === null || typeof raw.ma === 'string') {
    t.metaAcked = raw.ma;
  } else {
    throw corrupt(`bad metaAcked of ${key}`);
  }
  if (raw.pt !== undefined) {
    if (!isRecord(raw.pt)) throw corrupt(`bad truncates of ${key}`);
    for (const stream of STREAM_NAMES) {
      const list = raw.pt[stream];
      if (list === undefined) continue;
      if (!Array.isArray(list) || !list.every((k) => k === null || typeof k === 'string')) throw corrupt(`bad truncates of ${key}`);
      t.truncates[stream] = [...(list as Array<EntryKey | null>)];
    }
  }
  for (const [k, hashes] of stringPairs(raw.pc, `bad cut entries of ${key}`)) t.cut.set(k, hashes.split(' '));
  for (const [k, hash] of stringPairs(raw.hd, `bad held entries of ${key}`)) t.held.set(k, hash);
  if (raw.hf !== undefined) {
    if (!Array.isArray(raw.hf) || !raw.hf.every((n) => typeof n === 'string')) throw corrupt(`bad held fields of ${key}`);
    for (const name of raw.hf as string[]) t.heldFields.add(name);
  }
  return t;
}

/** `value` as `[string, string]` pairs (none when absent); STORAGE_STATE_CORRUPT with `problem` otherwise. */
function stringPairs(value: unknown, problem: string): Array<[string, string]> {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((p) => Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && typeof p[1] === 'string')) throw corrupt(problem);
  return value as Array<[string, string]>;
}

function emptyTask(source: TaskSource, taskId: TaskId): TaskSyncState {
  return {
    source,
    taskId,
    streams: { ui: new Map(), api: new Map() },
    fields: {},
    clocks: {},
    metaSeq: 0,
    deleted: null,
    metaAcked: null,
    truncates: { ui: [], api: [] },
    cut: new Map(),
    held: new Map(),
    heldFields: new Set(),
  };
}

function persistTask(t: TaskSyncState): PersistedTask {
  const out: PersistedTask = { ui: toTuples(t, 'ui'), api: toTuples(t, 'api'), f: structuredClone(t.fields), c: { ...t.clocks }, ms: t.metaSeq, del: t.deleted, ma: t.metaAcked };
  if (t.truncates.ui.length > 0 || t.truncates.api.length > 0) {
    out.pt = {};
    for (const stream of STREAM_NAMES) if (t.truncates[stream].length > 0) out.pt[stream] = [...t.truncates[stream]];
  }
  if (t.cut.size > 0) out.pc = [...t.cut].map(([key, hashes]) => [key, hashes.join(' ')]);
  if (t.held.size > 0) out.hd = [...t.held];
  if (t.heldFields.size > 0) out.hf = [...t.heldFields];
  return out;
}

/**
 * Notes a queued truncate, coalescing like the outbox (core/outbox/coalesce.ts): it replaces
 * the stream's latest queued one when it drops at least as much.
 */
export function noteQueuedTruncate(task: TaskSyncState, stream: StreamName, afterKey: EntryKey | null): void {
  const list = task.truncates[stream];
  const last = list[list.length - 1];
  if (list.length > 0 && (afterKey === null || (last !== null && last !== undefined && compareEntryKeys(afterKey, last) <= 0))) list[list.length - 1] = afterKey;
  else list.push(afterKey);
}

/**
 * Notes that the relay holds a truncate of this device (acknowledged, or pulled back): it and
 * every one queued before it are done. Acknowledgements come in queue order.
 */
export function noteTruncateAcked(task: TaskSyncState, stream: StreamName, afterKey: EntryKey | null): boolean {
  const list = task.truncates[stream];
  const at = list.indexOf(afterKey);
  if (at < 0) return false;
  list.splice(0, at + 1);
  return true;
}

/** True when `clock` is this device's own and above `metaAcked`: queued, not yet acknowledged. */
export function isUnackedOwnClock(task: TaskSyncState, clock: unknown, deviceId: string): boolean {
  return isOwnStamp(clock, deviceId) && (task.metaAcked === null || (clock as HlcStamp) > task.metaAcked);
}

/**
 * Notes that the relay holds `body` (acknowledged, or pulled back): raises `metaAcked` to the
 * highest of its clocks (field clocks, or the tombstone's) that is this device's own. True when it rose.
 */
export function noteMetaAcked(task: TaskSyncState, body: TaskMetaBody | TaskDeleteBody, deviceId: string): boolean {
  let raised = false;
  for (const clock of body.type === 'task.delete' ? [body.clock] : Object.values(body.clocks)) {
    if (!isUnackedOwnClock(task, clock, deviceId)) continue;
    task.metaAcked = clock;
    raised = true;
  }
  return raised;
}

/** True when `stamp` was issued by `deviceId` (HLC text `<wall>-<counter>-<device id>`). */
function isOwnStamp(stamp: unknown, deviceId: string): boolean {
  return typeof stamp === 'string' && stamp.length === 23 + deviceId.length && stamp.endsWith(deviceId) && stamp[22] === '-';
}

function toTuples(task: TaskSyncState, stream: StreamName): TrackedTuple[] {
  const out: TrackedTuple[] = [];
  for (const e of task.streams[stream].values()) {
    const own = e.own ? 1 : 0;
    const prev = e.prev && e.prev.length > 0 ? e.prev.join(' ') : null;
    if (e.base) out.push([e.key, e.hash, own, e.seq, prev, e.base]);
    else out.push(prev ? [e.key, e.hash, own, e.seq, prev] : [e.key, e.hash, own, e.seq]);
  }
  return out;
}

/** A stream's tracked entries in key order (the shape stream diffing takes). */
export function trackedList(task: TaskSyncState, stream: StreamName): TrackedEntryState[] {
  return [...task.streams[stream].values()].sort((a, b) => compareEntryKeys(a.key, b.key));
}

/** Loads the state from a store (an empty state when none was saved). */
export async function loadSyncState(store: SyncStateStore): Promise<SyncState> {
  if (store.loadPaged) {
    let paged: PagedSyncState;
    try {
      paged = await store.loadPaged();
    } catch (err) {
      if (err instanceof SyncError) throw err;
      throw new SyncError(StorageErrorCode.STATE_IO, 'could not read the sync state', undefined, { cause: err });
    }
    return withWaiting(SyncState.fromSaved(paged), store);
  }
  let data: PersistedSyncState | null;
  try {
    data = await store.load();
  } catch (err) {
    if (err instanceof SyncError) throw err;
    throw new SyncError(StorageErrorCode.STATE_IO, 'could not read the sync state', undefined, { cause: err });
  }
  return data === null ? new SyncState() : withWaiting(SyncState.fromPersisted(data), store);
}

/** `state` with the waiting changes of the tasks its header names, from the store's waiting log. */
async function withWaiting(state: SyncState, store: SyncStateStore): Promise<SyncState> {
  let records: WaitingRecord[];
  try {
    records = await store.loadWaiting();
  } catch (err) {
    if (err instanceof SyncError) throw err;
    throw new SyncError(StorageErrorCode.STATE_IO, 'could not read the waiting changes of the sync state', undefined, { cause: err });
  }
  state.foldWaiting(records);
  return state;
}

function corrupt(reason: string): SyncError {
  return new SyncError(StorageErrorCode.STATE_CORRUPT, `sync state is corrupt: ${reason}`, { reason });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isSeq(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}
