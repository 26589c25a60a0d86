/**
 * What a journaled page's replay must not overwrite: local edits made after the crash.
 *
 * A crash can cut the apply of a page short (pull-cycle's journal). When the device starts
 * again, a task of that page holds, entry by entry and field by field, one of three things:
 * what the sync state tracks (the apply had not written it yet), a version the page puts (the
 * apply had written it), or something else: an edit made on this machine since, by the
 * assistant or the user, between the crash and the restart. Only the third is a local edit.
 * Detection cannot tell the second from the third on its own (both differ from the state), so
 * the replay asks this module which keys and whether the HistoryItem hold the third, detects
 * only those, and queues them before applying the page, which then keeps them as it keeps any
 * queued edit. HistoryItem fields that hold a value the page sets are taken as synced here (the
 * apply would set them anyway).
 */
import { compareEntryKeys, STREAM_NAMES, type EntryKey, type HlcStamp, type ServerChange } from '../model/changes';
import { compareHlc } from '../model/hlc';
import type { TaskSnapshot } from '../ports/task-store';
import { deepEqual } from '../tracking/history-diff';
import { keyEntriesStable } from './stable-keys';
import { replacedVersions, type SyncState, type TaskSyncState } from './sync-state';
import { streamEntryKey } from './task-adopt';

/**
 * A detection scope (task-detect's DetectOptions.scope) covering the edits made since the crash,
 * or null when there are none. Entries and fields on disk that hold a version the page sets are
 * taken as synced with it first (the crashed apply wrote them), so that a detection, which
 * compares every tracked entry, does not send them back.
 */
export function editsSinceCrash(state: SyncState, deviceId: string, snapshot: TaskSnapshot, task: TaskSyncState, changes: readonly ServerChange[]): { keys: Set<string>; meta: boolean } | null {
  const keys = new Set<string>();
  for (const stream of STREAM_NAMES) {
    const put = new Map<EntryKey, Map<string, ServerChange>>();
    const truncatedAfter: Array<EntryKey | null> = [];
    for (const change of changes) {
      const body = change.body;
      if (body.type === 'stream.truncate' && body.stream === stream) truncatedAfter.push(body.afterKey);
      if (body.type !== 'stream.put' || body.stream !== stream) continue;
      const versions = put.get(body.key) ?? new Map<string, ServerChange>();
      versions.set(body.hash, change);
      put.set(body.key, versions);
    }
    if (put.size === 0 && truncatedAfter.length === 0) continue;
    const tracked = task.streams[stream];
    for (const entry of keyEntriesStable(stream, snapshot[stream], tracked, snapshot.keyed?.[stream])) {
      const synced = tracked.get(entry.key);
      if (synced?.hash === entry.hash || task.held.has(streamEntryKey(stream, entry.key))) continue;
      const written = put.get(entry.key)?.get(entry.hash);
      if (written) {
        if (!synced || synced.seq < written.seq) {
          const own = written.deviceId === deviceId;
          const prev = own ? undefined : replacedVersions(synced, entry.hash);
          tracked.set(entry.key, { key: entry.key, hash: entry.hash, own, seq: written.seq, ...(prev ? { prev } : {}) });
          state.markDirty(task);
        }
        continue;
      }
      // A key the page puts, or one its truncate drops: the apply would overwrite or drop what
      // was made here after the crash.
      const truncated = truncatedAfter.some((after) => after === null || compareEntryKeys(entry.key, after) > 0);
      if (put.has(entry.key) || truncated) keys.add(streamEntryKey(stream, entry.key));
    }
  }
  const meta = metaEditedSinceCrash(state, snapshot, task, changes);
  return keys.size > 0 || meta ? { keys, meta } : null;
}

/**
 * True when a HistoryItem field on disk differs both from the state and from every value the
 * page sets it to. A field that holds the page's value is taken as synced with that value's
 * clock (what applying the page does).
 */
function metaEditedSinceCrash(state: SyncState, snapshot: TaskSnapshot, task: TaskSyncState, changes: readonly ServerChange[]): boolean {
  const item = snapshot.historyItem;
  if (!item) return false;
  const set = new Map<string, Array<{ value: unknown; clock: HlcStamp }>>();
  for (const { body } of changes) {
    if (body.type !== 'task.meta') continue;
    for (const [name, value] of Object.entries(body.fields)) {
      const clock = body.clocks[name];
      if (clock !== undefined) set.set(name, [...(set.get(name) ?? []), { value, clock }]);
    }
  }
  let edited = false;
  for (const name of new Set([...Object.keys(item), ...Object.keys(task.fields)])) {
    if (name === 'id') continue;
    const onDisk = item[name] ?? null;
    if (deepEqual(onDisk, task.fields[name] ?? null)) continue;
    // (The apply writes every synced field, so one the page does not set is overwritten too.)
    const versions = set.get(name) ?? [];
    const written = versions.filter((v) => deepEqual(v.value ?? null, onDisk)).sort((a, b) => compareHlc(b.clock, a.clock))[0];
    if (!written) {
      edited = true;
      continue;
    }
    const before = task.clocks[name];
    if (before === undefined || compareHlc(before, written.clock) < 0) {
      task.fields[name] = structuredClone(written.value);
      task.clocks[name] = written.clock;
      state.markDirty(task);
    }
  }
  return edited;
}
