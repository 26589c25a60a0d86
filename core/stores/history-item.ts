/**
 * HistoryItem helpers: rebuilding one from a task's messages when no index has it, and the
 * `_index.json` cache shape. Pure: no IO.
 */
import type { HistoryItem } from '../ports/task-store';
import type { ApiRequestInfo } from './messages';

/** ask values that mark a resumed task; they do not move the task's `ts`. */
const RESUME_ASKS = new Set(['resume_task', 'resume_completed_task']);

/** The counters a HistoryItem sums over the `api_req_started` messages. */
export interface HistoryTotals {
  tokensIn: number;
  tokensOut: number;
  cacheWrites: number;
  cacheReads: number;
  totalCost: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function finiteNumber(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/** The JSON of an `api_req_started` message's text, or null when it is not that or does not parse. */
export function parseApiRequestInfo(message: unknown): ApiRequestInfo | null {
  if (!isRecord(message) || message['say'] !== 'api_req_started' || typeof message['text'] !== 'string') return null;
  try {
    const info: unknown = JSON.parse(message['text']);
    return isRecord(info) ? (info as ApiRequestInfo) : null;
  } catch {
    return null;
  }
}

/** Token and cost totals summed over every `api_req_started` message, in message order. */
export function sumApiTotals(ui: readonly unknown[]): HistoryTotals {
  const totals: HistoryTotals = { tokensIn: 0, tokensOut: 0, cacheWrites: 0, cacheReads: 0, totalCost: 0 };
  for (const message of ui) {
    const info = parseApiRequestInfo(message);
    if (!info) continue;
    totals.tokensIn += finiteNumber(info.tokensIn);
    totals.tokensOut += finiteNumber(info.tokensOut);
    totals.cacheWrites += finiteNumber(info.cacheWrites);
    totals.cacheReads += finiteNumber(info.cacheReads);
    totals.totalCost += finiteNumber(info.cost);
  }
  return totals;
}

/**
 * Rebuilds a HistoryItem from a task's ui messages, as the assistants do when their index
 * lost a task: `task` = first message's text trimmed, `ts` = ts of the last message that is
 * not a resume ask, totals summed from `api_req_started`. Returns null for an empty task.
 * `extra` (e.g. `number`, `size`, `workspace`) is merged underneath the rebuilt fields.
 */
export function rebuildHistoryItem(taskId: string, ui: readonly unknown[], extra: Record<string, unknown> = {}): HistoryItem | null {
  if (ui.length === 0) return null;
  const first = ui[0];
  const task = isRecord(first) && typeof first['text'] === 'string' ? first['text'].trim() : '';
  let ts = 0;
  for (let i = ui.length - 1; i >= 0; i--) {
    const message = ui[i];
    if (!isRecord(message) || typeof message['ts'] !== 'number') continue;
    if (message['type'] === 'ask' && RESUME_ASKS.has(String(message['ask']))) continue;
    ts = message['ts'];
    break;
  }
  if (ts === 0 && isRecord(first) && typeof first['ts'] === 'number') ts = first['ts'];
  return { ...extra, id: taskId, ts, task, ...sumApiTotals(ui) };
}

/** Roo Code's `tasks/_index.json` (>= v3.49): a cache of every folder's HistoryItem. */
export interface RooTaskIndex {
  version: 1;
  updatedAt: number;
  entries: HistoryItem[];
  [field: string]: unknown;
}

/** True when `value` has the `_index.json` shape. */
export function isRooTaskIndex(value: unknown): value is RooTaskIndex {
  return isRecord(value) && Array.isArray(value['entries']) && value['entries'].every(isHistoryItemLike);
}

/** True when `value` looks like a HistoryItem (an object with a string id). */
export function isHistoryItemLike(value: unknown): value is HistoryItem {
  return isRecord(value) && typeof value['id'] === 'string';
}

/** Newest first, as `_index.json` keeps them; ties by id so the order is stable. */
export function compareHistoryItemsNewestFirst(a: HistoryItem, b: HistoryItem): number {
  const d = finiteNumber(b['ts']) - finiteNumber(a['ts']);
  return d !== 0 ? d : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * `entries` with `item` put in (replacing the entry with the same id) or, when `item` is
 * null, with `id` removed; the order rule is the caller's (`sort` for `_index.json`, keep
 * position for Cline's taskHistory.json).
 */
export function upsertHistoryEntry(entries: readonly HistoryItem[], id: string, item: HistoryItem | null): HistoryItem[] {
  const out: HistoryItem[] = [];
  let placed = false;
  for (const entry of entries) {
    if (entry.id !== id) out.push(entry);
    else if (item && !placed) {
      out.push(item);
      placed = true;
    }
  }
  if (item && !placed) out.push(item);
  return out;
}
