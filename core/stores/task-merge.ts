/**
 * Merging a task from the relay into the copy a store already has (backfill): the union of the
 * messages, and the HistoryItem merged field by field. The local copy is never overwritten:
 * an entry both have keeps the local version, an api history the local copy has more of is kept
 * whole, a field both have keeps the local value (counters take the larger). Pure.
 */
import type { StreamName } from '../model/changes';
import type { HistoryItem, TaskSnapshot } from '../ports/task-store';
import { compareKeys, keyEntries } from '../tracking/stream-keys';

/** HistoryItem counters: the larger value is the more complete one. */
const COUNTERS = new Set(['tokensIn', 'tokensOut', 'cacheWrites', 'cacheReads', 'totalCost', 'size']);

export interface TaskMerge {
  snapshot: TaskSnapshot;
  /** Entries the remote copy added, per stream. */
  added: Record<StreamName, number>;
  /** HistoryItem fields the remote copy added or raised. */
  fields: string[];
  /** False when the merge equals the local copy (nothing to write). */
  changed: boolean;
}

/** `remote` merged into `local` (both of the same store source); see the module comment. */
export function mergeTaskCopies(local: TaskSnapshot, remote: TaskSnapshot): TaskMerge {
  const ui = mergeUi(local.ui, remote.ui);
  // api keys are positions: the remote copy can only add entries past the local end.
  const api = remote.api.length > local.api.length ? [...local.api, ...remote.api.slice(local.api.length)] : [...local.api];
  const { item, fields } = mergeItems(local.historyItem, remote.historyItem);
  const added = { ui: ui.length - local.ui.length, api: api.length - local.api.length };
  return {
    snapshot: { source: local.source, taskId: local.taskId, ui, api, historyItem: item },
    added,
    fields,
    changed: added.ui > 0 || added.api > 0 || fields.length > 0,
  };
}

/** Local entries in their order, with the remote entries of keys it lacks placed by key order. */
function mergeUi(local: readonly unknown[], remote: readonly unknown[]): unknown[] {
  const localKeyed = keyEntries('ui', local);
  const have = new Set(localKeyed.map((e) => e.key));
  const extra = keyEntries('ui', remote).filter((e) => !have.has(e.key));
  if (extra.length === 0) return [...local];
  const out: unknown[] = [];
  let j = 0;
  for (const entry of localKeyed) {
    while (j < extra.length && compareKeys(extra[j]!.key, entry.key) < 0) out.push(extra[j++]!.entry);
    out.push(entry.entry);
  }
  while (j < extra.length) out.push(extra[j++]!.entry);
  return out;
}

function mergeItems(local: HistoryItem | null, remote: HistoryItem | null): { item: HistoryItem | null; fields: string[] } {
  if (!remote) return { item: local, fields: [] };
  if (!local) return { item: { ...remote }, fields: Object.keys(remote).filter((k) => k !== 'id') };
  const item: HistoryItem = { ...local };
  const fields: string[] = [];
  for (const [field, value] of Object.entries(remote)) {
    if (value === undefined || value === null) continue;
    const mine = item[field];
    if (mine === undefined || mine === null) {
      item[field] = value;
      fields.push(field);
    } else if (COUNTERS.has(field) && typeof mine === 'number' && typeof value === 'number' && value > mine) {
      item[field] = value;
      fields.push(field);
    }
  }
  return { item, fields };
}
