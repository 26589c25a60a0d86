/**
 * Merge of task metadata (HistoryItem fields), field by field, by hybrid logical clock.
 *
 * The merge is a join: commutative, associative and idempotent, so devices that see the same
 * changes in any order, any number of times, end with the same metadata.
 */
import type { HlcStamp, TaskMetaBody } from '../model/changes';
import { compareHlc } from '../model/hlc';

/**
 * Metadata of one task as a set of fields, each with the stamp of its last write. A field whose
 * value is `null` was removed (kept so an older value cannot come back).
 */
export interface MetaState {
  fields: Record<string, unknown>;
  clocks: Record<string, HlcStamp>;
}

/** Fields that only grow (token counts, cost, size): the merge keeps the largest number. */
export const COUNTER_FIELDS: ReadonlySet<string> = new Set(['tokensIn', 'tokensOut', 'cacheWrites', 'cacheReads', 'totalCost', 'size']);

/**
 * Merges two metadata states. Per field:
 * - counters (`COUNTER_FIELDS`): the largest finite number; a number beats a non-number; the
 *   clock is the later of the two;
 * - every other field, including fields this code does not know: the value with the later
 *   clock wins; a field without a clock counts as older than any stamped one; equal clocks
 *   (which only a malformed peer can produce) are decided by the values' canonical JSON, so the
 *   result never depends on argument order.
 * Field names come out sorted, so merged states are identical byte for byte on every device.
 */
export function mergeTaskMeta(a: MetaState, b: MetaState): MetaState {
  const names = new Set([...Object.keys(a.fields), ...Object.keys(b.fields), ...Object.keys(a.clocks), ...Object.keys(b.clocks)]);
  const fields: Record<string, unknown> = {};
  const clocks: Record<string, HlcStamp> = {};
  for (const name of [...names].sort()) {
    const left = sideOf(a, name);
    const right = sideOf(b, name);
    const winner = COUNTER_FIELDS.has(name) ? largerCounter(left, right) : laterWrite(left, right);
    const clock = compareHlc(left.clock, right.clock) >= 0 ? left.clock : right.clock;
    if (winner.present) fields[name] = winner.value;
    if (clock !== '') clocks[name] = clock;
  }
  return { fields, clocks };
}

/** The HistoryItem fields of a state: removed (`null`) fields left out. */
export function presentFields(state: MetaState): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(state.fields)) if (value !== null && value !== undefined) out[name] = value;
  return out;
}

/**
 * The `task.meta` fields and clocks for a local edit: each named field's current value (`null`
 * when it was removed) stamped with `stamp`. Names come from `diffHistoryItem`.
 */
export function stampFields(current: Record<string, unknown>, names: readonly string[], stamp: HlcStamp): MetaState {
  const fields: Record<string, unknown> = {};
  const clocks: Record<string, HlcStamp> = {};
  for (const name of names) {
    const value = current[name];
    fields[name] = value === undefined ? null : value;
    clocks[name] = stamp;
  }
  return { fields, clocks };
}

interface Side {
  present: boolean;
  value: unknown;
  clock: HlcStamp;
}

function sideOf(state: MetaState, name: string): Side {
  const present = Object.prototype.hasOwnProperty.call(state.fields, name) && state.fields[name] !== undefined;
  const clock = state.clocks[name];
  return { present, value: present ? state.fields[name] : undefined, clock: typeof clock === 'string' ? clock : '' };
}

function laterWrite(left: Side, right: Side): Side {
  const byClock = compareHlc(left.clock, right.clock);
  if (byClock !== 0) return byClock > 0 ? left : right;
  return compareValues(left, right) >= 0 ? left : right;
}

function largerCounter(left: Side, right: Side): Side {
  const leftNumber = isCount(left);
  const rightNumber = isCount(right);
  if (leftNumber && rightNumber) return (left.value as number) >= (right.value as number) ? left : right;
  if (leftNumber !== rightNumber) return leftNumber ? left : right;
  return laterWrite(left, right);
}

function isCount(side: Side): boolean {
  return side.present && typeof side.value === 'number' && Number.isFinite(side.value);
}

/** Total order on values: absent first, then by canonical JSON text. */
function compareValues(left: Side, right: Side): number {
  const l = left.present ? canonicalJson(left.value) : '';
  const r = right.present ? canonicalJson(right.value) : '';
  return l < r ? -1 : l > r ? 1 : 0;
}

/** JSON text with object keys sorted, so equal values have equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item ?? null)).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    const parts = Object.keys(record)
      .filter((key) => record[key] !== undefined)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`);
    return `{${parts.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * One task.meta body equal to applying `bodies` in order (how both relays compact a task's
 * metadata changes into its latest one without losing fields): `mergeTaskMeta` folded over
 * them, so counters keep their largest value as they do on the devices, and every other field
 * the value with the greatest clock. The last body gives the rest.
 */
export function foldMetaBodies(bodies: readonly TaskMetaBody[]): TaskMetaBody {
  const last = bodies[bodies.length - 1]!;
  let state: MetaState = { fields: {}, clocks: {} };
  for (const body of bodies) state = mergeTaskMeta(state, { fields: body.fields, clocks: body.clocks as Record<string, HlcStamp> });
  return { ...last, fields: state.fields, clocks: state.clocks };
}
