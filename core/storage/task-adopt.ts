/**
 * Recognises pulled changes whose content the disk already holds in a task the sync state does
 * not track yet: a store written by `backfill` from the relay, copied from another machine, or
 * kept while the device's sync state was lost. Without this, detection (which runs before a page
 * is applied, so it cannot overwrite local edits) takes every such entry and field for a local
 * edit and sends the whole history back to the relay, where each entry's own earlier version
 * turns it into a conflict.
 *
 * Only what the state does not track is adopted, and only content equal to a version in the
 * changes: a stream entry whose hash is that of a put of the same key, a HistoryItem field (of a
 * task with no synced fields) equal to a `task.meta` value. It is then tracked as that version
 * (the latest equal one), as if this device had pulled it; the changes are applied after it as
 * usual, so later versions in the log still replace it. Anything else on disk stays a local
 * edit. Entities with a queued change are left to the apply rules.
 */
import type { EntryKey, HlcStamp, ServerChange, StreamName } from '../model/changes';
import { compareHlc } from '../model/hlc';
import { STREAM_NAMES } from '../model/changes';
import type { TaskSnapshot } from '../ports/task-store';
import { deepEqual } from '../tracking/history-diff';
import { keyEntriesStable } from './stable-keys';
import type { TaskSyncState } from './sync-state';
import type { PendingIndex } from './task-apply';

/** What `adoptHeldChanges` took as synced. */
export interface Adopted {
  entries: number;
  fields: number;
}

/**
 * Tracks, in `task` (updated in memory), the entries and fields of `snapshot` (the task on
 * disk) that equal versions in `changes` (this task's, in seq order) and are not tracked yet.
 */
export function adoptHeldChanges(snapshot: TaskSnapshot, task: TaskSyncState, changes: readonly ServerChange[], pending: PendingIndex): Adopted {
  const adopted: Adopted = { entries: 0, fields: 0 };
  if (task.deleted !== null) return adopted;
  for (const stream of STREAM_NAMES) adopted.entries += adoptEntries(snapshot, task, stream, changes, pending);
  adopted.fields = adoptFields(snapshot, task, changes, pending);
  return adopted;
}

function adoptEntries(snapshot: TaskSnapshot, task: TaskSyncState, stream: StreamName, changes: readonly ServerChange[], pending: PendingIndex): number {
  const tracked = task.streams[stream];
  // The latest put of each untracked key, per content: the version to adopt is found after
  // the disk is keyed, which is skipped when no put could be adopted.
  const candidates = new Map<EntryKey, Map<string, number>>();
  for (const change of changes) {
    const body = change.body;
    if (body.type !== 'stream.put' || body.stream !== stream || tracked.has(body.key) || pending.entities.has(change.entity)) continue;
    const versions = candidates.get(body.key) ?? new Map<string, number>();
    versions.set(body.hash, change.seq);
    candidates.set(body.key, versions);
  }
  if (candidates.size === 0) return 0;
  let count = 0;
  for (const entry of keyEntriesStable(stream, snapshot[stream], tracked, snapshot.keyed?.[stream])) {
    const seq = candidates.get(entry.key)?.get(entry.hash);
    if (seq === undefined) continue;
    tracked.set(entry.key, { key: entry.key, hash: entry.hash, own: false, seq });
    if (stream === 'ui') task.cut.delete(entry.key);
    count++;
  }
  return count;
}

/**
 * Fields of a task with no synced fields at all (a never-synced task: the only case where the
 * disk's HistoryItem says nothing about local edits), equal to a pulled value. A field the state
 * tracks is compared with it by detection, as always.
 */
function adoptFields(snapshot: TaskSnapshot, task: TaskSyncState, changes: readonly ServerChange[], pending: PendingIndex): number {
  const item = snapshot.historyItem;
  if (!item || task.metaSeq !== 0 || Object.keys(task.fields).length > 0) return 0;
  const taken = new Map<string, { value: unknown; clock: HlcStamp }>();
  for (const change of changes) {
    const body = change.body;
    if (body.type !== 'task.meta' || pending.entities.has(change.entity)) continue;
    for (const [name, value] of Object.entries(body.fields)) {
      const clock = body.clocks[name];
      if (clock === undefined || !deepEqual(item[name] ?? null, value ?? null)) continue;
      const before = taken.get(name);
      if (!before || compareHlc(before.clock, clock) < 0) taken.set(name, { value, clock });
    }
  }
  for (const [name, { value, clock }] of taken) {
    task.fields[name] = structuredClone(value);
    task.clocks[name] = clock;
  }
  return taken.size;
}
