/**
 * Change detection for a task's HistoryItem (its metadata): which fields differ from the last
 * synced state. The caller stamps each named field with an HLC stamp and sends a `task.meta`.
 */
import type { HistoryItem } from '../ports/task-store';

/**
 * Names (sorted) of the fields that are new, changed (deep-equal compare; object key order
 * does not matter) or removed in `current` compared with `synced`. A removed field is sent as
 * `null` in `task.meta`. A missing HistoryItem (`null`) changes nothing: empty is not a
 * deletion, and a task is deleted only by an explicit tombstone. A field whose value is
 * `undefined` counts as absent.
 */
export function diffHistoryItem(current: HistoryItem | null, synced: Record<string, unknown>): string[] {
  if (current === null) return [];
  const changed: string[] = [];
  for (const name of Object.keys(current)) {
    const value = current[name];
    if (value === undefined) continue;
    if (!Object.prototype.hasOwnProperty.call(synced, name) || !deepEqual(value, synced[name])) changed.push(name);
  }
  for (const name of Object.keys(synced)) {
    if (synced[name] === undefined || synced[name] === null) continue;
    if (!Object.prototype.hasOwnProperty.call(current, name) || current[name] === undefined) changed.push(name);
  }
  return changed.sort();
}

/** Structural equality of JSON values (object key order ignored, array order significant). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) {
    return typeof a === 'number' && typeof b === 'number' && Number.isNaN(a) && Number.isNaN(b);
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    if (a.length !== other.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], other[i])) return false;
    return true;
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const leftKeys = Object.keys(left).filter((key) => left[key] !== undefined);
  const rightKeys = Object.keys(right).filter((key) => right[key] !== undefined);
  if (leftKeys.length !== rightKeys.length) return false;
  for (const key of leftKeys) {
    if (!Object.prototype.hasOwnProperty.call(right, key) || !deepEqual(left[key], right[key])) return false;
  }
  return true;
}
