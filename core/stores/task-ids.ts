/**
 * Task ids and the folder names that hold them. The assistants used three id generations:
 * `Date.now().toString()` (until Jan 2025), then UUID v4, then UUID v7 (Roo Code v3.41+).
 * Stores can hold all three at once, so nothing may assume one shape.
 */

export type TaskIdEra = 'timestamp' | 'uuid4' | 'uuid7' | 'other';

const TIMESTAMP_ID = /^\d{12,14}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-([0-9a-f])[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
/** What a task folder name may be: one safe path segment, nothing a writer could escape with. */
const SAFE_TASK_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

/** Which generation an id belongs to (`other` for ids no known version produced). */
export function taskIdEra(id: string): TaskIdEra {
  if (TIMESTAMP_ID.test(id)) return 'timestamp';
  const uuid = UUID.exec(id);
  if (uuid) {
    if (uuid[1] === '4') return 'uuid4';
    if (uuid[1] === '7') return 'uuid7';
  }
  return 'other';
}

/** The creation time an id carries (timestamp and UUID v7 ids), else null. */
export function taskIdTime(id: string): number | null {
  const era = taskIdEra(id);
  if (era === 'timestamp') return Number(id);
  if (era === 'uuid7') return parseInt(id.replace(/-/g, '').slice(0, 12), 16);
  return null;
}

/** True when `id` is safe to use as a task folder name (one segment, no `.`/`_` prefix, no separators). */
export function isValidTaskId(id: string): boolean {
  return SAFE_TASK_ID.test(id);
}

/**
 * True when an entry of `tasks/` is a task folder: not `_index.json`-like (`_`), not hidden or
 * a temp file (`.`), not a lock (`.lock`) or temp leftover (`.tmp`).
 */
export function isTaskFolderName(name: string): boolean {
  if (name.startsWith('_') || name.startsWith('.')) return false;
  if (name.endsWith('.lock') || name.endsWith('.tmp')) return false;
  return isValidTaskId(name);
}
