/**
 * The entities that sync and the changes that move them (see ../shared/DESIGN.md "Data model").
 *
 * A change body says what happened to one entity. A device wraps it with its own
 * `(deviceId, clientSeq)` and the base version it last saw (`baseSeq`); the relay stores it
 * once under that pair and gives it the next number (`seq`) in the user's change log.
 */
import type { DeviceId, TaskId, WorkspaceId } from '../ids';

export const TASK_SOURCES = ['roo-code', 'zoo-code', 'kilo-code', 'cline'] as const;
/** Which assistant a task belongs to. */
export type TaskSource = (typeof TASK_SOURCES)[number];

export const STREAM_NAMES = ['ui', 'api'] as const;
/** `ui` = ui_messages.json, `api` = api_conversation_history.json. */
export type StreamName = (typeof STREAM_NAMES)[number];

/**
 * Key of one entry in a task stream.
 * - ui: `"<ts>:<occurrence>"` where occurrence counts earlier entries with the same ts (usually 0).
 * - api: the entry's position as a decimal string (`"0"`, `"1"`, ...).
 * Keys order numerically (see `compareEntryKeys`), never as strings.
 */
export type EntryKey = string;

/**
 * A hybrid-logical-clock timestamp, serialised so that string order is clock order:
 * `<wall ms, 15 digits>-<counter, 6 digits>-<device id>`. See `core/model/hlc.ts`.
 */
export type HlcStamp = string;

/** Task metadata (a HistoryItem) changed: only the fields that changed, each with its clock. */
export interface TaskMetaBody {
  type: 'task.meta';
  source: TaskSource;
  taskId: TaskId;
  /** Changed HistoryItem fields. A field set to `null` in `fields` was removed. */
  fields: Record<string, unknown>;
  /** One HLC stamp per field in `fields`. */
  clocks: Record<string, HlcStamp>;
}

/** A task was deleted on purpose (a tombstone). An absence is never a deletion. */
export interface TaskDeleteBody {
  type: 'task.delete';
  source: TaskSource;
  taskId: TaskId;
  clock: HlcStamp;
}

/** Insert or replace one stream entry. */
export interface StreamPutBody {
  type: 'stream.put';
  source: TaskSource;
  taskId: TaskId;
  stream: StreamName;
  key: EntryKey;
  /** sha256 of `JSON.stringify(entry)`. */
  hash: string;
  entry: unknown;
}

/** Drop every entry whose key orders after `afterKey` ("delete from here"); `null` drops all. */
export interface StreamTruncateBody {
  type: 'stream.truncate';
  source: TaskSource;
  taskId: TaskId;
  stream: StreamName;
  afterKey: EntryKey | null;
}

/** A workspace file's new version. Content is in the blob store under `hash`. */
export interface FilePutBody {
  type: 'file.put';
  workspaceId: WorkspaceId;
  /** Relative, normalised, '/'-separated path (see core/paths). */
  path: string;
  hash: string;
  size: number;
  mode: number;
  mtime: number;
  /** True when the content is not text (merged by "newer wins" plus a conflict copy). */
  binary: boolean;
}

/** A workspace file was deleted. */
export interface FileDeleteBody {
  type: 'file.delete';
  workspaceId: WorkspaceId;
  path: string;
}

export type ChangeBody =
  | TaskMetaBody
  | TaskDeleteBody
  | StreamPutBody
  | StreamTruncateBody
  | FilePutBody
  | FileDeleteBody;

export type ChangeType = ChangeBody['type'];

/** A change as a device pushes it. */
export interface ClientChange {
  /** Per-device, strictly increasing from 1; `(deviceId, clientSeq)` is the idempotency key. */
  clientSeq: number;
  /**
   * The `seq` of the latest version of this entity the device had seen when it made the
   * change (`null`: none). Checked only for entities that do not merge (see `isMergeable`).
   */
  baseSeq: number | null;
  body: ChangeBody;
}

/** A change as the relay stores and sends it: numbered in the user's log. */
export interface ServerChange extends ClientChange {
  seq: number;
  deviceId: DeviceId;
  /** The entity this change belongs to (`entityKeyOf(body)`). */
  entity: string;
}

/**
 * The entity a change belongs to. Changes to one entity are ordered by `seq`; the latest wins
 * unless it merges.
 */
export function entityKeyOf(body: ChangeBody): string {
  switch (body.type) {
    case 'task.meta':
    case 'task.delete':
      return `task/${body.source}/${body.taskId}`;
    case 'stream.put':
      return `stream/${body.source}/${body.taskId}/${body.stream}/${body.key}`;
    case 'stream.truncate':
      return `stream/${body.source}/${body.taskId}/${body.stream}`;
    case 'file.put':
    case 'file.delete':
      return `file/${body.workspaceId}/${body.path}`;
  }
}

/**
 * Stream entries merge by key (union; same key: last accepted wins), so the relay never
 * reports a base-version conflict for them. Task metadata and files do not merge on the
 * relay: a stale `baseSeq` is a conflict returned to the device, which resolves it.
 */
export function isMergeable(body: ChangeBody): boolean {
  return body.type === 'stream.put' || body.type === 'stream.truncate';
}

/** Orders stream keys: ui keys by (ts, occurrence), api keys by position. */
export function compareEntryKeys(a: EntryKey, b: EntryKey): number {
  const [aMajor, aMinor = '0'] = a.split(':');
  const [bMajor, bMinor = '0'] = b.split(':');
  const major = Number(aMajor) - Number(bMajor);
  if (major !== 0) return major;
  return Number(aMinor) - Number(bMinor);
}
