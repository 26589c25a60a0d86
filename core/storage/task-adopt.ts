/**
 * Recognises pulled changes whose content the disk already holds in a task the sync state does
 * not track yet: a store written by `backfill` from the relay, copied from another machine, or
 * kept while the device's sync state was lost. Without this, detection (which runs before a page
 * is applied, so that the apply cannot overwrite local edits) takes every such entry and field
 * for a local edit and sends the whole history back to the relay.
 *
 * Per entry the state does not track, of a key the pulled changes put:
 * - the disk holds the content of one of those puts: it is tracked as that version (the latest
 *   equal one), as if this device had pulled it; the changes after it apply as usual;
 * - otherwise, while the device has not caught up with the log (`hold`), it is held
 *   (TaskSyncState.held): the apply tracks the puts but leaves the disk's entry, and a later
 *   version in the log may still turn out to be it (the copy was made after the first version
 *   the device pulls). Held entries are released when the device has caught up (`releaseHeld`):
 *   then they are local edits, sent as made without having seen the version pulled there (whose
 *   author keeps it in a conflict copy).
 * HistoryItem fields of a task with no synced fields work the same way, per field: equal to a
 * pulled value, adopted; otherwise held until caught up (TaskSyncState.heldFields).
 * Entities with a queued change are left to the apply rules.
 */
import type { EntryKey, HlcStamp, ServerChange, StreamName } from '../model/changes';
import { STREAM_NAMES } from '../model/changes';
import { compareHlc } from '../model/hlc';
import type { TaskSnapshot } from '../ports/task-store';
import { deepEqual } from '../tracking/history-diff';
import { keyEntriesStable, occurrence, uiKeyTimestamp } from './stable-keys';
import { taskStateKey, type SyncState, type TaskSyncState } from './sync-state';
import type { PendingIndex } from './task-apply';

export interface AdoptOptions {
  /** This device: its own changes coming back are tracked as its own. */
  deviceId: string;
  /** Hold what does not match (the device has not caught up with the log yet). */
  hold: boolean;
}

/** What `adoptHeldChanges` did. */
export interface Adopted {
  /** Entries and fields taken as synced. */
  entries: number;
  fields: number;
  /** Entries and fields newly held. */
  held: number;
  /**
   * Untracked ui entries on disk below a key of their timestamp that the changes put, not put
   * themselves (`<stream>/<key>`): detect them before the apply (when caught up; while catching
   * up they are held instead). Left untracked below a tracked occurrence of their timestamp,
   * they would leave a hole in its occurrence numbers, and stable-keys would then number the
   * disk's entries of that timestamp differently.
   */
  siblings: Set<string>;
  /**
   * Held fields whose disk value turned out to be an older version than the one tracked (HLC
   * order): the disk is stale there. The caller unholds them after detecting and before
   * applying, so the apply writes the tracked value instead of detection sending the old one.
   */
  staleFields: string[];
}

/** `<stream>/<key>`: how held entries (TaskSyncState.held) and DetectOptions.scope name an entry of a task. */
export function streamEntryKey(stream: StreamName, key: EntryKey): string {
  return `${stream}/${key}`;
}

/**
 * Adopts and holds, in `task` (updated in memory), the entries and fields of `snapshot` (the
 * task on disk) against `changes` (this task's, in seq order).
 */
export function adoptHeldChanges(snapshot: TaskSnapshot, task: TaskSyncState, changes: readonly ServerChange[], pending: PendingIndex, options: AdoptOptions): Adopted {
  const result: Adopted = { entries: 0, fields: 0, held: 0, siblings: new Set(), staleFields: [] };
  if (task.deleted !== null) return result;
  for (const stream of STREAM_NAMES) adoptEntries(snapshot, task, stream, changes, pending, options, result);
  adoptFields(snapshot, task, changes, pending, options, result);
  return result;
}

function adoptEntries(snapshot: TaskSnapshot, task: TaskSyncState, stream: StreamName, changes: readonly ServerChange[], pending: PendingIndex, options: AdoptOptions, result: Adopted): void {
  const tracked = task.streams[stream];
  // Per key put by the changes and not tracked (or held): content hash -> its latest put.
  const versions = new Map<EntryKey, Map<string, ServerChange>>();
  const latest = new Map<EntryKey, ServerChange>();
  for (const change of changes) {
    const body = change.body;
    if (body.type !== 'stream.put' || body.stream !== stream || pending.entities.has(change.entity)) continue;
    if (tracked.has(body.key) && !task.held.has(streamEntryKey(stream, body.key))) continue;
    const byHash = versions.get(body.key) ?? new Map<string, ServerChange>();
    byHash.set(body.hash, change);
    versions.set(body.key, byHash);
    latest.set(body.key, change);
  }
  if (versions.size === 0) return;
  const disk = keyEntriesStable(stream, snapshot[stream], tracked, snapshot.keyed?.[stream]);
  const putTimestamps = new Set<string>();
  for (const entry of disk) {
    const byHash = versions.get(entry.key);
    if (!byHash) continue;
    if (stream === 'ui') putTimestamps.add(uiKeyTimestamp(entry.key));
    const key = streamEntryKey(stream, entry.key);
    const held = task.held.get(key);
    // The assistant rewrote a held entry meanwhile: that is a local edit now, not a copy.
    if (held !== undefined && held !== entry.hash) {
      release(task, stream, entry.key);
      continue;
    }
    const match = byHash.get(entry.hash);
    if (match) {
      tracked.set(entry.key, { key: entry.key, hash: entry.hash, own: match.deviceId === options.deviceId, seq: match.seq });
      if (stream === 'ui') task.cut.delete(entry.key);
      task.held.delete(key);
      result.entries++;
    } else if (held === undefined && options.hold && !tracked.has(entry.key)) {
      // Tracked now as the latest put (the apply then skips these puts and keeps the disk's
      // entry): every key of the batch is tracked before the apply numbers the disk's entries,
      // so none is a hole in the occurrences of its timestamp.
      const put = latest.get(entry.key)!;
      tracked.set(entry.key, { key: entry.key, hash: (put.body as { hash: string }).hash, own: put.deviceId === options.deviceId, seq: put.seq });
      task.held.set(key, entry.hash);
      result.held++;
    }
  }
  if (stream !== 'ui' || putTimestamps.size === 0) return;
  // The highest occurrence of each timestamp that is (now) tracked.
  const top = new Map<string, number>();
  for (const key of tracked.keys()) {
    const ts = uiKeyTimestamp(key);
    if (putTimestamps.has(ts)) top.set(ts, Math.max(top.get(ts) ?? -1, occurrence(key)));
  }
  for (const entry of disk) {
    if (tracked.has(entry.key) || versions.has(entry.key)) continue;
    const ts = uiKeyTimestamp(entry.key);
    if (!putTimestamps.has(ts) || occurrence(entry.key) > (top.get(ts) ?? -1)) continue;
    if (options.hold) {
      // Tracked as no version yet (an empty hash: once released, it is sent as unseen), held.
      tracked.set(entry.key, { key: entry.key, hash: '', own: false, seq: 0 });
      task.held.set(streamEntryKey(stream, entry.key), entry.hash);
      result.held++;
    } else result.siblings.add(streamEntryKey(stream, entry.key));
  }
}

/**
 * Fields of a task with no synced fields (a never-synced task: the only case where the disk's
 * HistoryItem says nothing about local edits), or held ones: adopted when equal to a pulled
 * value; the others held while the device catches up. A field the state tracks is compared
 * by detection, as always.
 */
function adoptFields(snapshot: TaskSnapshot, task: TaskSyncState, changes: readonly ServerChange[], pending: PendingIndex, options: AdoptOptions, result: Adopted): void {
  const item = snapshot.historyItem;
  if (!item) return;
  const fresh = task.metaSeq === 0 && Object.keys(task.fields).length === 0;
  if (!fresh && task.heldFields.size === 0) return;
  const open = (name: string): boolean => fresh || task.heldFields.has(name);
  const taken = new Map<string, { value: unknown; clock: HlcStamp }>();
  for (const change of changes) {
    const body = change.body;
    if (body.type !== 'task.meta' || pending.entities.has(change.entity)) continue;
    for (const [name, value] of Object.entries(body.fields)) {
      const clock = body.clocks[name];
      if (clock === undefined || !open(name) || !deepEqual(item[name] ?? null, value ?? null)) continue;
      const before = taken.get(name);
      if (!before || compareHlc(before.clock, clock) < 0) taken.set(name, { value, clock });
    }
  }
  for (const [name, { value, clock }] of taken) {
    const before = task.clocks[name];
    if (before === undefined || compareHlc(before, clock) < 0) {
      task.fields[name] = structuredClone(value);
      task.clocks[name] = clock;
      task.heldFields.delete(name);
    } else if (!deepEqual(task.fields[name] ?? null, value ?? null)) {
      // The disk holds a version older than the tracked one: stale, not a local edit.
      result.staleFields.push(name);
    } else task.heldFields.delete(name);
  }
  result.fields += taken.size;
  if (!options.hold || !fresh) return;
  for (const name of Object.keys(item)) {
    if (item[name] === undefined || taken.has(name) || Object.prototype.hasOwnProperty.call(task.fields, name)) continue;
    task.heldFields.add(name);
    result.held++;
  }
}

/**
 * Releases every held entry and field, once the device has caught up with the log: what the
 * disk still holds there matched no version in it, so it is a local edit, and detection now
 * sends it (an entry as made without having seen the version pulled there, see `release`).
 * Returns how many were released.
 */
export function releaseHeld(state: SyncState): number {
  let released = 0;
  for (const task of state.allTasks()) {
    // A task whose pulled changes wait for its files (task-defer) has not seen its part of the
    // log yet: what it holds is released once they are applied (releaseTaskHeld).
    if (state.waiting.has(taskStateKey(task.source, task.taskId))) continue;
    released += releaseTaskHeld(state, task);
  }
  return released;
}

/** releaseHeld for one task; returns how many entries and fields it released. */
export function releaseTaskHeld(state: SyncState, task: TaskSyncState): number {
  const released = task.held.size + task.heldFields.size;
  if (released === 0) return 0;
  for (const key of [...task.held.keys()]) {
    const slash = key.indexOf('/');
    release(task, key.slice(0, slash) as StreamName, key.slice(slash + 1) as EntryKey);
  }
  task.heldFields.clear();
  state.markDirty(task);
  return released;
}

/**
 * Whether `task`'s pulled changes are applied as during a catch-up (task-adopt holds what
 * matches none of them): until the device has caught up, and after that for a task that still
 * holds entries or fields, which only a task whose changes waited for its files does (releaseHeld
 * skipped it).
 */
export function catchingUp(state: SyncState, task: TaskSyncState): boolean {
  return !state.caughtUp || task.held.size > 0 || task.heldFields.size > 0;
}

/**
 * Ends the hold of one entry: a local edit made without having seen the version tracked there
 * (the device never had it on disk), so its put goes out with no base and the device whose
 * version it replaces keeps that one in a conflict copy (task-apply), instead of taking the
 * put for an edit of it.
 */
function release(task: TaskSyncState, stream: StreamName, key: EntryKey): void {
  task.held.delete(streamEntryKey(stream, key));
  const tracked = task.streams[stream].get(key);
  if (tracked) task.streams[stream].set(key, { key, hash: tracked.hash, own: false, seq: 0 });
}
