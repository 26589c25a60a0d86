/**
 * Moving a HistoryItem between assistants' layouts (backfilling Roo Code tasks into Kilo Code
 * or Cline): the fields whose names differ are mapped, every other field is kept as it is
 * (unknown fields pass through). Roo, Zoo and Kilo share one HistoryItem; Cline's classic one
 * names the working folder `cwdOnTaskInitialization` and has no `number`, `mode` or `workspace`.
 * Pure.
 */
import type { TaskSource } from '../model/changes';
import type { HistoryItem } from '../ports/task-store';
import { layoutOf } from './layouts';

/** `item` (a HistoryItem of `from`) as a HistoryItem of `to`. */
export function mapHistoryItem(item: HistoryItem, from: TaskSource, to: TaskSource): HistoryItem {
  const fromKind = layoutOf(from).kind;
  const toKind = layoutOf(to).kind;
  const out: HistoryItem = { ...item };
  if (fromKind === toKind) return out;
  if (toKind === 'cline') {
    if (out['cwdOnTaskInitialization'] === undefined && typeof out['workspace'] === 'string') out['cwdOnTaskInitialization'] = out['workspace'];
  } else {
    if (out['workspace'] === undefined && typeof out['cwdOnTaskInitialization'] === 'string') out['workspace'] = out['cwdOnTaskInitialization'];
    // Roo's history view needs a number; the assistant renumbers on its next rebuild.
    if (typeof out['number'] !== 'number') out['number'] = 0;
  }
  return out;
}
