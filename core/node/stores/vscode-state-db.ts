/**
 * The task index assistants kept in VS Code's globalState before they wrote one to disk (Roo
 * Code before v3.49, Cline before v3.28): the SQLite file `<User>/globalStorage/state.vscdb`,
 * table `ItemTable`, key = the extension id (any case), value = a JSON object whose
 * `taskHistory` is a HistoryItem array.
 *
 * Read with sql.js (SQLite compiled to WebAssembly, the single-file build): it installs from
 * the npm registry alone and loads in VS Code's extension host, where a native module built
 * for the system Node does not. The file is read into memory and never written back (VS Code
 * may be running and holding it; what we read may be slightly stale, which is fine for an
 * index of old tasks).
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Database, SqlJsStatic } from 'sql.js';
import { SyncError } from '../../errors';
import { replaceEscapedNul } from '../../model/escaped-nul';
import type { HistoryItem } from '../../ports/task-store';
import { isHistoryItemLike } from '../../stores/history-item';
import { STORE_ERROR_CODES } from '../../stores/store-scan';
import { isErrnoCode, readFileIfExists } from './json-file';

/** The file name VS Code gives its globalState database. */
export const STATE_DB_FILE = 'state.vscdb';

/** `<User>/globalStorage/state.vscdb` of an editor's user-data folder. */
export function stateDbPathFor(userDataDir: string): string {
  return join(userDataDir, 'globalStorage', STATE_DB_FILE);
}

let sqlJs: Promise<SqlJsStatic> | null = null;

/** sql.js, initialised once per process (about 50 ms). */
function loadSqlJs(): Promise<SqlJsStatic> {
  sqlJs ??= (async () => {
    const { default: init } = await import('sql.js/dist/sql-wasm-inline.js');
    return init();
  })();
  return sqlJs;
}

/**
 * The HistoryItems `extensionId` kept in `stateDbPath`, or null when the file or the key is
 * absent or the value has no `taskHistory`. A file that is not SQLite, or a value that is not
 * JSON, throws STORE_CORRUPT_JSON (details path, reason). Entries that are not HistoryItems
 * are skipped.
 */
export async function readLegacyTaskHistory(stateDbPath: string, extensionId: string): Promise<HistoryItem[] | null> {
  const bytes = await readFileIfExists(stateDbPath);
  if (bytes === null || bytes.length === 0) return null;
  const SQL = await loadSqlJs();
  let db: Database;
  try {
    db = new SQL.Database(bytes);
  } catch (error) {
    throw corrupt(stateDbPath, `not an SQLite database: ${messageOf(error)}`);
  }
  let raw: unknown;
  try {
    const statement = db.prepare('SELECT value FROM ItemTable WHERE lower(key) = lower(?) LIMIT 1');
    try {
      statement.bind([extensionId]);
      if (!statement.step()) return null;
      raw = statement.get()[0];
    } finally {
      statement.free();
    }
  } catch (error) {
    throw corrupt(stateDbPath, `cannot read ItemTable: ${messageOf(error)}`);
  } finally {
    db.close();
  }
  if (raw === null || raw === undefined) return null;
  const text = typeof raw === 'string' ? raw : Buffer.from(raw as Uint8Array).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(replaceEscapedNul(text));
  } catch (error) {
    throw corrupt(stateDbPath, `the ${extensionId} value is not JSON: ${messageOf(error)}`);
  }
  const history = (value as { taskHistory?: unknown } | null)?.taskHistory;
  if (!Array.isArray(history)) return null;
  return history.filter(isHistoryItemLike);
}

/**
 * A store's legacy index, read once and kept while the file's size and mtime stay the same.
 * FsTaskStore consults it after history_item.json and its own index, before rebuilding a
 * HistoryItem from the messages.
 */
export class LegacyStateIndex {
  private cache: { mtimeMs: number; size: number; entries: ReadonlyMap<string, HistoryItem> | null } | null = null;

  constructor(
    readonly path: string,
    readonly extensionId: string,
  ) {}

  async entries(): Promise<ReadonlyMap<string, HistoryItem> | null> {
    let info;
    try {
      info = await stat(this.path);
    } catch (error) {
      if (isErrnoCode(error, 'ENOENT') || isErrnoCode(error, 'ENOTDIR')) return null;
      throw error;
    }
    const c = this.cache;
    if (c && c.mtimeMs === info.mtimeMs && c.size === info.size) return c.entries;
    const items = await readLegacyTaskHistory(this.path, this.extensionId);
    const entries = items ? new Map(items.map((item) => [item.id, item] as const)) : null;
    this.cache = { mtimeMs: info.mtimeMs, size: info.size, entries };
    return entries;
  }
}

function corrupt(path: string, reason: string): SyncError {
  return new SyncError(STORE_ERROR_CODES.corruptJson, `${path}: ${reason}`, { path, reason });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
