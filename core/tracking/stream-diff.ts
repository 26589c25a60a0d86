/**
 * Change detection for one task stream: what changed on disk since the last synced state.
 *
 * Follows the data-keeping rules of DESIGN.md "Data model": a stale rewrite is not a deletion,
 * empty is not a deletion, and a truncate is sent only for this device's own "delete from here".
 */
import type { TaskId } from '../ids';
import type { EntryKey, StreamName, StreamPutBody, StreamTruncateBody, TaskSource } from '../model/changes';
import { compareKeys, keyEntries, sortByKey, type KeyedEntry } from './stream-keys';

/** One entry of the last synced state of a stream. */
export interface TrackedEntry {
  key: EntryKey;
  hash: string;
  /** True when this device contributed this version (it sent it, rather than received it). */
  own: boolean;
}

/** What to do about one stream after comparing it with its synced state. */
export interface StreamDiff {
  /** New or changed entries (file order): send one `stream.put` each. */
  puts: KeyedEntry[];
  /**
   * Set when this device's user deleted entries "from here": send one `stream.truncate` with
   * this `afterKey` before the puts (puts may carry keys after it: new entries after the cut).
   * Absent when nothing was cut. Detection never produces `null` (drop everything), see
   * `diffKeyedStream`.
   */
  truncateAfter?: EntryKey | null;
  /** Synced keys (key order) missing from the file that must be written back, not deleted. */
  restore: EntryKey[];
}

/** Keys, hashes and diffs a stream as read from disk. See `diffKeyedStream` for the rule. */
export function diffStream(stream: StreamName, current: readonly unknown[], synced: readonly TrackedEntry[]): StreamDiff {
  return diffKeyedStream(keyEntries(stream, current), synced);
}

/**
 * Diffs keyed entries (file order, e.g. from `keyEntries` or `parseStreamText`) against the
 * synced state (any order; key order is fastest).
 *
 * The rule:
 * 1. **Puts**: every current entry whose key is not synced, or whose hash differs.
 * 2. **Empty is not a deletion**: when `current` is empty, nothing is put or truncated and
 *    every synced key is restored.
 * 3. **Delete from here**: let the *vanished suffix* be the longest run of synced entries, at
 *    the end in key order, that are all missing from `current`. If it holds an entry this device
 *    contributed (`own`), the first such entry is where the user cut: `truncateAfter` is the key
 *    of the synced entry just before it. Foreign entries in the suffix before that point are
 *    restored (a stale rewrite lacked them); everything after the cut is dropped, whoever
 *    wrote it, as the assistant's "delete from here" drops everything after the message.
 *    When the cut would fall before the first synced entry (nothing of the synced stream is
 *    left to cut after), no truncate is sent and everything is restored: a file with none of
 *    its synced entries left looks like a broken rewrite, not a user action.
 * 4. **A stale rewrite is not a deletion**: every other missing synced entry (foreign ones,
 *    and own ones missing from the middle) is restored.
 *
 * `current` keys must be unique (as `keyEntries` makes them).
 *
 * Limit: api keys are positions, so when a new message of this device lands at a position
 * that holds a foreign entry, that is a changed entry (a put that replaces it), not a vanished
 * one; hashes alone cannot tell it from an edit in place (condensing tags old messages).
 * - When this device had not seen the foreign entry (both devices appended position N
 *   concurrently), the put names no base at or after it (`baseSeq`, see task-detect), and the
 *   entry's author, applying the put, keeps its version in a task conflict copy before the
 *   later seq wins (task-apply, task-conflict-copy): nothing is lost.
 * - When this device had received it and a stale rewrite (the assistant's memory lacked it)
 *   put a new message over it, task-detect tells that from an edit by content (the received
 *   entry is gone from the file and the new one is another message, not the same one tagged
 *   or extended) and sends the put as not having seen it: the author keeps a copy as above.
 *   An edit that changes an entry's content otherwise costs a copy too many, never an entry.
 * ui keys are timestamps and do not have this problem.
 */
export function diffKeyedStream(current: readonly KeyedEntry[], synced: readonly TrackedEntry[]): StreamDiff {
  const sorted = sortByKey(synced);
  if (current.length === 0) return { puts: [], restore: sorted.map((entry) => entry.key) };

  // Fast path: the usual change is an append, so the files agree up to some point.
  const common = Math.min(current.length, sorted.length);
  let prefix = 0;
  while (prefix < common && current[prefix]!.key === sorted[prefix]!.key && current[prefix]!.hash === sorted[prefix]!.hash) {
    prefix++;
  }

  const rest = new Map<EntryKey, TrackedEntry>();
  for (let i = prefix; i < sorted.length; i++) rest.set(sorted[i]!.key, sorted[i]!);
  const present = new Set<EntryKey>();
  const puts: KeyedEntry[] = [];
  for (let i = prefix; i < current.length; i++) {
    const entry = current[i]!;
    const before = rest.get(entry.key);
    if (before) present.add(entry.key);
    if (!before || before.hash !== entry.hash) puts.push(entry);
  }

  let suffixStart = sorted.length;
  while (suffixStart > prefix && !present.has(sorted[suffixStart - 1]!.key)) suffixStart--;
  let cut = -1;
  for (let i = suffixStart; i < sorted.length; i++) {
    if (sorted[i]!.own) {
      cut = i;
      break;
    }
  }

  const restoreEnd = cut > 0 ? cut : sorted.length;
  const restore: EntryKey[] = [];
  for (let i = prefix; i < restoreEnd; i++) {
    const key = sorted[i]!.key;
    if (!present.has(key)) restore.push(key);
  }
  const diff: StreamDiff = { puts, restore };
  if (cut > 0) diff.truncateAfter = sorted[cut - 1]!.key;
  return diff;
}


/** The change bodies for a diff, in the order to send them: the truncate first, then the puts. */
export function streamChangeBodies(
  source: TaskSource,
  taskId: TaskId,
  stream: StreamName,
  diff: StreamDiff,
): Array<StreamPutBody | StreamTruncateBody> {
  const bodies: Array<StreamPutBody | StreamTruncateBody> = [];
  if (diff.truncateAfter !== undefined) bodies.push({ type: 'stream.truncate', source, taskId, stream, afterKey: diff.truncateAfter });
  for (const put of diff.puts) bodies.push({ type: 'stream.put', source, taskId, stream, key: put.key, hash: put.hash, entry: put.entry });
  return bodies;
}

/**
 * The synced state once a diff's changes are sent (key order): keys after the truncate are
 * gone, every put is this device's own version, restored entries stay as they were.
 */
export function syncedAfter(synced: readonly TrackedEntry[], diff: StreamDiff): TrackedEntry[] {
  const byKey = new Map<EntryKey, TrackedEntry>();
  for (const entry of synced) {
    if (diff.truncateAfter === null) break;
    if (diff.truncateAfter !== undefined && compareKeys(entry.key, diff.truncateAfter) > 0) continue;
    byKey.set(entry.key, entry);
  }
  for (const put of diff.puts) byKey.set(put.key, { key: put.key, hash: put.hash, own: true });
  return [...sortByKey([...byKey.values()])];
}
