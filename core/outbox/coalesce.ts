/**
 * Coalescing: when an entity already has a queued change and a newer one arrives, the two are
 * replaced by one change with the same net effect, so a day of offline edits to one entry
 * replays as one change instead of thousands.
 */
import { compareEntryKeys, entityKeyOf, type ChangeBody, type ClientChange } from '../model/changes';

/**
 * The one change equivalent to applying `older` then `newer` (both to the same entity), or
 * `null` when no single change is equivalent and both must stay queued.
 *
 * The result takes `newer`'s clientSeq and baseSeq: it is queued where `newer` is, and
 * `newer`'s base is the latest version the device had seen.
 * - task.meta + task.meta: the union of fields; where both set a field, the later clock wins
 *   (ties go to `newer`).
 * - anything + task.delete, stream.put + stream.put, file.* + file.*: `newer` replaces `older`.
 * - stream.truncate + stream.truncate: `newer` replaces `older` only when it drops at least
 *   as much (its `afterKey` orders at or before `older`'s); otherwise both stay.
 * - task.delete + task.meta: both stay (the delete must still reach the relay).
 */
export function coalesceChanges(older: ClientChange, newer: ClientChange): ClientChange | null {
  if (entityKeyOf(older.body) !== entityKeyOf(newer.body)) return null;
  const body = coalesceBodies(older.body, newer.body);
  return body === null ? null : { clientSeq: newer.clientSeq, baseSeq: newer.baseSeq, body };
}

function coalesceBodies(older: ChangeBody, newer: ChangeBody): ChangeBody | null {
  switch (newer.type) {
    case 'task.meta':
      if (older.type !== 'task.meta') return null;
      return mergeMeta(older, newer);
    case 'task.delete':
    case 'stream.put':
    case 'file.put':
    case 'file.delete':
      return newer;
    case 'stream.truncate': {
      if (older.type !== 'stream.truncate') return null;
      if (newer.afterKey === null) return newer;
      if (older.afterKey === null) return null;
      return compareEntryKeys(newer.afterKey, older.afterKey) <= 0 ? newer : null;
    }
  }
}

function mergeMeta(
  older: Extract<ChangeBody, { type: 'task.meta' }>,
  newer: Extract<ChangeBody, { type: 'task.meta' }>,
): ChangeBody {
  const fields: Record<string, unknown> = { ...older.fields };
  const clocks: Record<string, string> = { ...older.clocks };
  for (const [name, value] of Object.entries(newer.fields)) {
    const olderClock = older.clocks[name];
    const newerClock = newer.clocks[name];
    const olderWins =
      Object.prototype.hasOwnProperty.call(older.fields, name) &&
      olderClock !== undefined &&
      newerClock !== undefined &&
      olderClock > newerClock;
    if (olderWins) continue;
    fields[name] = value;
    if (newerClock !== undefined) clocks[name] = newerClock;
  }
  return { ...newer, fields, clocks };
}
