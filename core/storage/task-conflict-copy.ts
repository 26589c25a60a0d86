/**
 * Conflict copies of tasks: when a remote stream put displaces an entry this device wrote and
 * the remote device had not seen (two devices appended to the same task concurrently: both put
 * api position N), the task as this device held it before the batch is kept as a new task
 * beside the original. The original follows the log (the later seq wins, on every device); the
 * copy is a normal task, synced like any other, so every device ends with both and nothing is
 * lost. See task-apply (`displaced`) and pull-cycle (`keepConflictCopy`).
 *
 * The copy's id has the original's id format (core/stores/task-ids.ts) and is derived from the
 * original, the device and where the divergence starts (`DisplacedVersion.divergence`), so
 * applying the same batch again after a crash, and the next batches of the same divergence (a
 * device back from a long time offline sends its appends in many pages, each displacing more of
 * this device's run), find the copy already written: one copy per divergence, not one per page.
 * A copy found is used only when it holds every displaced version; otherwise the next candidate
 * id is tried.
 */
import type { TaskId } from '../ids';
import { hashJson, sha256Hex } from '../model/hash';
import type { HistoryItem, TaskSnapshot } from '../ports/task-store';
import { rebuildHistoryItem } from '../stores/history-item';
import { layoutOf } from '../stores/layouts';
import { taskIdEra, taskIdTime } from '../stores/task-ids';

/** How a conflict copy's title starts: `[conflict copy <device> <UTC time>] <original title>`. */
export const TASK_COPY_MARK = '[conflict copy ';

/**
 * HistoryItem fields that link a task to its subtasks: a copy is not the parent they report
 * back to, so they are not copied (the original keeps them).
 */
const LINK_FIELDS = ['childIds', 'awaitingChildId', 'delegatedToId', 'completedByChildId'];

/** What applying found: a batch displaced entries this device wrote, unseen by their replacer. */
export interface DisplacedVersion {
  /** The task as this device held it before the batch (its streams in order, its HistoryItem). */
  before: TaskSnapshot;
  /** Seq of the first change of the batch that displaced one of this device's entries. */
  seq: number;
  /** The device that wrote that change. */
  by: string;
  /** How many of this device's entries the batch displaced. */
  entries: number;
  /** Content hashes of this device's versions the batch displaced (what a copy must hold). */
  lost: string[];
  /**
   * Where the divergence starts (`<stream>/<key>` of its first displaced key, task-apply): the
   * batches of one divergence name the same start, and so the same copy.
   */
  divergence: string;
}

/** The device as the title names it: its id, without spaces or `]` (which end the mark), at most 64 characters. */
const copyDeviceName = (deviceId: string): string => deviceId.replace(/[\s\]]/g, '_').slice(0, 64);

/** True when a HistoryItem is a task conflict copy's (its title carries the mark), made by `deviceId` when given. */
export function isTaskConflictCopy(item: HistoryItem | null | undefined, deviceId?: string): boolean {
  const mark = deviceId === undefined ? TASK_COPY_MARK : `${TASK_COPY_MARK}${copyDeviceName(deviceId)} `;
  return typeof item?.task === 'string' && item.task.startsWith(mark);
}

/** Candidates of a copy id in the original's format before `taskCopyId` falls back to a UUID v4. */
export const COPY_ID_ATTEMPTS = 8;

/**
 * The id of the `attempt`-th candidate for the copy of `taskId` made by `deviceId` for the
 * divergence `divergence` (DisplacedVersion.divergence), in the original's id format: a UUID v7 keeps the original's time, a
 * UUID v4 (or an id of no known format) gets a UUID v4, a `Date.now()` id gets a number just
 * after the original's (within 1,000 s). Deterministic: the same inputs give the same id.
 */
export function taskCopyId(taskId: TaskId, deviceId: string, divergence: number | string, attempt = 0): TaskId {
  const hex = sha256Hex(`roo-sync task conflict copy\n${taskId}\n${deviceId}\n${divergence}\n${attempt}`);
  // A `Date.now()` id whose nearby numbers are all taken falls back to a UUID v4 (which no
  // other task can hold) after a few attempts.
  const era = attempt >= COPY_ID_ATTEMPTS ? 'uuid4' : taskIdEra(taskId);
  if (era === 'timestamp') {
    const offset = 1 + (parseInt(hex.slice(0, 8), 16) % 1_000_000);
    return String(Number(taskId) + offset) as TaskId;
  }
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  if (era === 'uuid7') {
    const time = (taskIdTime(taskId) ?? 0).toString(16).padStart(12, '0').slice(-12);
    return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${hex.slice(0, 3)}-${variant}${hex.slice(3, 6)}-${hex.slice(6, 18)}` as TaskId;
  }
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(12, 15)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}` as TaskId;
}

/** True when `copy` holds every version in `lost` (content hashes) in one of its streams. */
export function copyHolds(copy: TaskSnapshot, lost: readonly string[]): boolean {
  const held = new Set<string>();
  for (const entry of copy.api) held.add(hashJson(entry));
  for (const entry of copy.ui) held.add(hashJson(entry));
  return lost.every((hash) => held.has(hash));
}

/** `YYYY-MM-DD HH:MM UTC` */
function utcMinute(ms: number): string {
  const at = new Date(Number.isFinite(ms) ? ms : 0);
  const iso = (Number.isFinite(at.getTime()) ? at : new Date(0)).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

/**
 * The copy of `displaced.before` under `copyId`, its title marked so the user sees it in the
 * assistant's history list next to the original.
 */
export function buildTaskCopy(displaced: DisplacedVersion, copyId: TaskId, deviceId: string, now: number): TaskSnapshot {
  const { before } = displaced;
  const extra = layoutOf(before.source).kind === 'roo' ? { number: 0 } : {};
  const base: HistoryItem = before.historyItem ?? rebuildHistoryItem(before.taskId, before.ui, extra) ?? { ...extra, id: before.taskId, ts: now, task: '' };
  const item: HistoryItem = { ...structuredClone(base), id: copyId };
  for (const field of LINK_FIELDS) delete item[field];
  const title = typeof base.task === 'string' ? base.task : '';
  item.task = `${TASK_COPY_MARK}${copyDeviceName(deviceId)} ${utcMinute(now)}] ${title}`;
  return { source: before.source, taskId: copyId, ui: structuredClone(before.ui), api: structuredClone(before.api), historyItem: item };
}
