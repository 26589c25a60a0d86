/**
 * What one page of a user's change log does to the read model, computed without the database:
 * rows in (in seq order) plus the current state of the tasks they touch, writes out. The
 * projector (project-batch.ts) turns the plan into a few set-based statements.
 *
 * The rules are the devices' (core/storage/task-apply.ts), so the read model shows what every
 * device converges to:
 * - task.meta: merged into the task's metadata per field with `mergeTaskMeta` (later HLC wins,
 *   counters take the maximum): a join, so order and repetition do not change the result.
 * - task.delete: a tombstone (`deleted_at`) that stands: the task's metadata and stream entries
 *   are dropped, and later changes to the task are ignored, as on a device.
 * - stream.put: inserts or replaces the entry under its key; stream.truncate drops the entries
 *   whose key orders after `afterKey` (`null`: all) as they exist at that point in the log
 *   (core/merge/stream-merge.ts). Each put and truncate also leaves one message_changes row
 *   (history: a later tombstone does not remove it).
 * - file.put / file.delete: the file's latest version in file_sync_state (a delete keeps the
 *   row with `deleted`), one file_changes row each, and the workspace row they belong to.
 * A change whose body cannot be stored (a key that is not numeric, an unknown source, ...) is
 * skipped and counted: it must never hold the user's projection back.
 */
import { STREAM_NAMES, TASK_SOURCES, type ChangeBody, type ChangeType, type StreamName } from '../../core/model/changes';
import { mergeTaskMeta, presentFields, type MetaState } from '../../core/merge/metadata-merge';

/** One row of the change log, as the projector reads it. A stream.put's body comes without its
 *  `entry`: the read model names the change (seq) instead of copying the entry. */
export interface LogRow {
  seq: number;
  deviceId: string;
  body: ChangeBody;
}

/** A task's row in `conversations` as the plan sees it. */
export interface TaskState {
  source: string;
  taskId: string;
  meta: MetaState;
  deleted: boolean;
  /** Seq of the latest change to the task that the read model holds. */
  headSeq: number;
}

/** A stream key's numeric order: ui `<ts>:<occurrence>` -> (ts, occurrence), api `<position>` -> (position, 0). */
export interface KeyOrder {
  major: number;
  minor: number;
}

export interface MessagePut {
  task: string;
  stream: StreamName;
  key: string;
  order: KeyOrder;
  hash: string;
  /** The log change that wrote this version: the messages route reads the entry from its body. */
  seq: number;
  deviceId: string;
}

/** Drop the stream's entries after `after` (`null`: all) that exist before this page's puts. */
export interface MessageTruncation {
  task: string;
  stream: StreamName;
  after: KeyOrder | null;
}

export interface MessageChange {
  task: string;
  stream: StreamName;
  /** The put's key, or the truncate's `afterKey` (null: the whole stream). */
  key: string | null;
  type: 'put' | 'truncate';
  hash: string | null;
  seq: number;
  deviceId: string;
}

export interface FileState {
  workspaceId: string;
  path: string;
  hash: string | null;
  size: number;
  mode: number | null;
  mtime: number | null;
  binary: boolean;
  deleted: boolean;
  seq: number;
  deviceId: string;
}

export interface FileChange {
  workspaceId: string;
  path: string;
  type: 'put' | 'delete';
  hash: string | null;
  size: number | null;
  seq: number;
  deviceId: string;
}

export interface ProjectionPlan {
  /** Tasks whose row changes, by `taskKey`. */
  tasks: Map<string, TaskState>;
  /** At most one per task and stream: the widest truncation of the page, applied before `puts`. */
  truncations: MessageTruncation[];
  /** The entries the page leaves, one per task, stream and key. */
  puts: MessagePut[];
  messageChanges: MessageChange[];
  workspaces: Set<string>;
  /** The page's last version of each file. */
  files: FileState[];
  fileChanges: FileChange[];
  /** Rows per change type (skipped ones included). */
  counts: Partial<Record<ChangeType, number>>;
  /** Rows whose body could not be stored. */
  skipped: number;
}

/** The key of a task in plans: source and task id. */
export function taskKey(source: string, taskId: string): string {
  return `${source}\u0000${taskId}`;
}

/** The two task ids a body names, or undefined for file changes. */
export function taskOf(body: ChangeBody): { source: string; taskId: string } | undefined {
  return 'taskId' in body ? { source: body.source, taskId: body.taskId } : undefined;
}

const KEY_PATTERN = /^(\d{1,15})(?::(\d{1,9}))?$/;

/** A stream key's numeric order, or undefined when it is not a key (see core/model/changes.ts `EntryKey`). */
export function parseKeyOrder(key: unknown): KeyOrder | undefined {
  if (typeof key !== 'string') return undefined;
  const m = KEY_PATTERN.exec(key);
  if (!m) return undefined;
  return { major: Number(m[1]), minor: m[2] === undefined ? 0 : Number(m[2]) };
}

function compareOrder(a: KeyOrder, b: KeyOrder): number {
  return a.major - b.major || a.minor - b.minor;
}

/**
 * The plan for `rows` (ascending seq) given `existing`, the current rows of the tasks they
 * touch by `taskKey` (absent: no row yet).
 */
export function planProjection(rows: readonly LogRow[], existing: ReadonlyMap<string, TaskState>): ProjectionPlan {
  const plan: ProjectionPlan = {
    tasks: new Map(),
    truncations: [],
    puts: [],
    messageChanges: [],
    workspaces: new Set(),
    files: [],
    fileChanges: [],
    counts: {},
    skipped: 0,
  };
  // Per task and stream: entries put by this page (key -> put) and its widest truncation.
  const streams = new Map<string, { task: string; stream: StreamName; puts: Map<string, MessagePut>; cut?: KeyOrder | null }>();
  const files = new Map<string, FileState>();
  const stateOf = (source: string, taskId: string): TaskState => {
    const key = taskKey(source, taskId);
    let state = plan.tasks.get(key);
    if (!state) {
      const prior = existing.get(key);
      state = prior
        ? { ...prior, meta: { fields: { ...prior.meta.fields }, clocks: { ...prior.meta.clocks } } }
        : { source, taskId, meta: { fields: {}, clocks: {} }, deleted: false, headSeq: 0 };
      plan.tasks.set(key, state);
    }
    return state;
  };
  const streamOf = (task: string, stream: StreamName) => {
    const key = `${task}\u0000${stream}`;
    let entry = streams.get(key);
    if (!entry) {
      entry = { task, stream, puts: new Map() };
      streams.set(key, entry);
    }
    return entry;
  };
  const cut = (task: string, stream: StreamName, after: KeyOrder | null): void => {
    const s = streamOf(task, stream);
    for (const [key, put] of s.puts) if (after === null || compareOrder(put.order, after) > 0) s.puts.delete(key);
    if (s.cut === null) return;
    if (after === null || s.cut === undefined || compareOrder(after, s.cut) < 0) s.cut = after;
  };

  for (const row of rows) {
    const body = row.body;
    plan.counts[body.type] = (plan.counts[body.type] ?? 0) + 1;
    if (!isStorable(body)) {
      plan.skipped++;
      continue;
    }
    switch (body.type) {
      case 'task.meta':
      case 'task.delete':
      case 'stream.put':
      case 'stream.truncate': {
        const state = stateOf(body.source, body.taskId);
        if (state.deleted) break; // the tombstone stands
        const task = taskKey(body.source, body.taskId);
        state.headSeq = Math.max(state.headSeq, row.seq);
        if (body.type === 'task.meta') {
          state.meta = mergeTaskMeta(state.meta, { fields: body.fields, clocks: body.clocks });
        } else if (body.type === 'task.delete') {
          state.deleted = true;
          state.meta = { fields: {}, clocks: {} };
          for (const stream of STREAM_NAMES) cut(task, stream, null);
        } else if (body.type === 'stream.put') {
          const order = parseKeyOrder(body.key)!;
          const put: MessagePut = {
            task, stream: body.stream, key: body.key, order, hash: body.hash, seq: row.seq, deviceId: row.deviceId,
          };
          streamOf(task, body.stream).puts.set(body.key, put);
          plan.messageChanges.push({ task, stream: body.stream, key: body.key, type: 'put', hash: body.hash, seq: row.seq, deviceId: row.deviceId });
        } else {
          cut(task, body.stream, body.afterKey === null ? null : parseKeyOrder(body.afterKey)!);
          plan.messageChanges.push({ task, stream: body.stream, key: body.afterKey, type: 'truncate', hash: null, seq: row.seq, deviceId: row.deviceId });
        }
        break;
      }
      case 'file.put':
      case 'file.delete': {
        plan.workspaces.add(body.workspaceId);
        const put = body.type === 'file.put';
        files.set(`${body.workspaceId}\u0000${body.path}`, {
          workspaceId: body.workspaceId,
          path: body.path,
          hash: put ? body.hash : null,
          size: put ? body.size : 0,
          mode: put && body.mode !== undefined ? body.mode : null,
          mtime: put && body.mtime !== undefined && body.mtime !== null ? Math.round(body.mtime) : null,
          binary: put ? body.binary : false,
          deleted: !put,
          seq: row.seq,
          deviceId: row.deviceId,
        });
        plan.fileChanges.push({
          workspaceId: body.workspaceId, path: body.path, type: put ? 'put' : 'delete',
          hash: put ? body.hash : null, size: put ? body.size : null, seq: row.seq, deviceId: row.deviceId,
        });
        break;
      }
    }
  }
  for (const s of streams.values()) {
    if (s.cut !== undefined) plan.truncations.push({ task: s.task, stream: s.stream, after: s.cut });
    plan.puts.push(...s.puts.values());
  }
  plan.files = [...files.values()];
  return plan;
}

/** The metadata a task row shows: the HistoryItem without removed fields. */
export function visibleMeta(state: TaskState): Record<string, unknown> {
  return presentFields(state.meta);
}

const SOURCES: ReadonlySet<string> = new Set(TASK_SOURCES);
const STREAMS: ReadonlySet<string> = new Set(STREAM_NAMES);
const isText = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && !v.includes('\u0000');
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** True when the read model's columns can hold `body` (the relay stores any body the protocol validator let through). */
function isStorable(body: ChangeBody): boolean {
  switch (body.type) {
    case 'task.meta':
      return SOURCES.has(body.source) && isText(body.taskId) && isRecord(body.fields) && isRecord(body.clocks);
    case 'task.delete':
      return SOURCES.has(body.source) && isText(body.taskId);
    case 'stream.put':
      return SOURCES.has(body.source) && isText(body.taskId) && STREAMS.has(body.stream) && isText(body.hash) && parseKeyOrder(body.key) !== undefined;
    case 'stream.truncate':
      return SOURCES.has(body.source) && isText(body.taskId) && STREAMS.has(body.stream) &&
        (body.afterKey === null || parseKeyOrder(body.afterKey) !== undefined);
    case 'file.put':
      return isText(body.workspaceId) && isText(body.path) && isText(body.hash) && isCount(body.size) &&
        (body.mode === undefined || body.mode === null || Number.isSafeInteger(body.mode)) &&
        (body.mtime === undefined || body.mtime === null || Number.isFinite(body.mtime));
    case 'file.delete':
      return isText(body.workspaceId) && isText(body.path);
    default:
      return false;
  }
}
