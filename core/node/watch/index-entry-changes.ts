/**
 * Which tasks an index rewrite touched. The assistants rewrite their whole task index
 * (`tasks/_index.json`, Cline's `state/taskHistory.json`) on every save, so "the index
 * changed" says little: comparing each entry with the one seen last time names the tasks whose
 * HistoryItem was added, changed or removed, and a device checks those instead of the whole
 * store (a thousand tasks read and compared on every message otherwise).
 */
import type { HistoryItem } from '../../ports/task-store';

export type IndexEntries = ReadonlyMap<string, HistoryItem> | null;

export class IndexEntryChanges {
  /** Each entry's JSON as last seen; null before the first read. */
  private seen: Map<string, string> | null = null;

  constructor(private readonly read: () => Promise<IndexEntries>) {}

  /**
   * The ids whose entry was added, changed or removed since the last call, sorted; null when
   * there is nothing to compare with (the first call), so the caller checks everything. A read
   * that fails (a corrupt index) throws and forgets what was seen, so the next call is a first one.
   */
  async next(): Promise<string[] | null> {
    let entries: IndexEntries;
    try {
      entries = await this.read();
    } catch (err) {
      this.seen = null;
      throw err;
    }
    const now = new Map<string, string>();
    for (const [id, item] of entries ?? []) now.set(id, JSON.stringify(item));
    const before = this.seen;
    this.seen = now;
    if (before === null) return null;
    const changed = new Set<string>();
    for (const [id, json] of now) if (before.get(id) !== json) changed.add(id);
    for (const id of before.keys()) if (!now.has(id)) changed.add(id);
    return [...changed].sort();
  }
}
