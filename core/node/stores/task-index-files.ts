/**
 * The index files that list a store's tasks for the assistant's history view:
 * - Roo Code (and forks that kept it): `tasks/_index.json`, `{version:1, updatedAt, entries}`
 *   sorted newest first. A cache the assistant rebuilds from the folders, so a corrupt one is
 *   left alone (reported) and never blocks a write.
 * - Cline: `state/taskHistory.json`, a plain HistoryItem array: the only index Cline has, so a
 *   corrupt one blocks writes (STORE_CORRUPT_JSON) rather than being replaced with less.
 * Every update is a read-modify-write under the file's `.lock` directory.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { HistoryItem } from '../../ports/task-store';
import { compareHistoryItemsNewestFirst, isHistoryItemLike, isRooTaskIndex, upsertHistoryEntry } from '../../stores/history-item';
import { STORE_FILES, type TaskStoreLayout } from '../../stores/layouts';
import { withFileLock, type FileLockOptions } from './file-lock';
import { isErrnoCode, parseStoreJson, readFileIfExists, writeFileAtomic } from './json-file';

/** One store's task index file. */
export interface TaskIndexFile {
  readonly path: string;
  /** Entries by id, or null when the file does not exist; throws STORE_CORRUPT_JSON when corrupt. */
  entries(): Promise<ReadonlyMap<string, HistoryItem> | null>;
  /** Throws STORE_CORRUPT_JSON when a later update could not be made without losing entries. */
  assertWritable(): Promise<void>;
  /** Puts `item` in under its id, or removes `id` when `item` is null; rewrites only on change. */
  update(id: string, item: HistoryItem | null): Promise<void>;
  /** Several `update`s in one read-modify-write of the file (a backfill writes many tasks). */
  updateMany(changes: ReadonlyArray<readonly [string, HistoryItem | null]>): Promise<void>;
}

export interface TaskIndexOptions {
  lock: Partial<FileLockOptions>;
  now: () => number;
}

/** The index file of `layout` in the store at `basePath`, or null when the layout keeps none. */
export function taskIndexFileFor(layout: TaskStoreLayout, basePath: string, options: TaskIndexOptions): TaskIndexFile | null {
  if (layout.kind === 'cline') return new ClineTaskHistoryFile(join(basePath, ...STORE_FILES.clineIndex), options);
  if (layout.rooIndex === 'never') return null;
  return new RooIndexFile(join(basePath, STORE_FILES.tasksDir, STORE_FILES.rooIndex), layout.rooIndex === 'always', options);
}

/** Caches the parsed entries while the file's size and mtime stay the same. */
abstract class CachedIndexFile implements TaskIndexFile {
  private cache: { ino: number; mtimeMs: number; size: number; entries: ReadonlyMap<string, HistoryItem> } | null = null;

  constructor(
    readonly path: string,
    protected readonly options: TaskIndexOptions,
  ) {}

  /** The entries held in the parsed file, or throws STORE_CORRUPT_JSON. */
  protected abstract parse(bytes: Buffer): HistoryItem[];

  async entries(): Promise<ReadonlyMap<string, HistoryItem> | null> {
    let info;
    try {
      info = await stat(this.path);
    } catch (error) {
      if (isErrnoCode(error, 'ENOENT')) return null;
      throw error;
    }
    // An atomic replace changes the inode, so a rewrite within the mtime resolution is still seen.
    const c = this.cache;
    if (c && c.ino === info.ino && c.mtimeMs === info.mtimeMs && c.size === info.size) return c.entries;
    const bytes = await readFileIfExists(this.path);
    if (bytes === null) return null;
    const entries = new Map(this.parse(bytes).map((item) => [item.id, item] as const));
    this.cache = { ino: info.ino, mtimeMs: info.mtimeMs, size: info.size, entries };
    return entries;
  }

  abstract assertWritable(): Promise<void>;
  abstract updateMany(changes: ReadonlyArray<readonly [string, HistoryItem | null]>): Promise<void>;

  update(id: string, item: HistoryItem | null): Promise<void> {
    return this.updateMany([[id, item]]);
  }
}

function applyChanges(entries: readonly HistoryItem[], changes: ReadonlyArray<readonly [string, HistoryItem | null]>): HistoryItem[] {
  let out = [...entries];
  for (const [id, item] of changes) out = upsertHistoryEntry(out, id, item);
  return out;
}

class RooIndexFile extends CachedIndexFile {
  constructor(
    path: string,
    private readonly createWhenMissing: boolean,
    options: TaskIndexOptions,
  ) {
    super(path, options);
  }

  protected parse(bytes: Buffer): HistoryItem[] {
    const value = parseStoreJson(this.path, bytes, (v) => (isRooTaskIndex(v) ? null : 'expected {version, updatedAt, entries: HistoryItem[]}'));
    return (value as { entries: HistoryItem[] }).entries;
  }

  async assertWritable(): Promise<void> {
    // A cache: when it is corrupt the assistant rebuilds it; our write does not depend on it.
  }

  async updateMany(changes: ReadonlyArray<readonly [string, HistoryItem | null]>): Promise<void> {
    if (changes.length === 0) return;
    await withFileLock(this.path, this.options.lock, async () => {
      const bytes = await readFileIfExists(this.path);
      if (bytes === null && (!this.createWhenMissing || changes.every(([, item]) => item === null))) return;
      let index: Record<string, unknown> = { version: 1, updatedAt: 0, entries: [] };
      if (bytes !== null) {
        try {
          index = parseStoreJson(this.path, bytes, (v) => (isRooTaskIndex(v) ? null : 'not an index')) as Record<string, unknown>;
        } catch {
          return; // corrupt cache: keep it as it is (scan reports it); the assistant rebuilds it
        }
      }
      const before = index['entries'] as HistoryItem[];
      const after = applyChanges(before, changes).sort(compareHistoryItemsNewestFirst);
      if (bytes !== null && JSON.stringify(after) === JSON.stringify(before)) return;
      await writeFileAtomic(this.path, JSON.stringify({ ...index, version: 1, updatedAt: this.options.now(), entries: after }));
    });
  }
}

class ClineTaskHistoryFile extends CachedIndexFile {
  protected parse(bytes: Buffer): HistoryItem[] {
    return parseStoreJson(this.path, bytes, (v) =>
      Array.isArray(v) && v.every(isHistoryItemLike) ? null : 'expected an array of HistoryItems',
    ) as HistoryItem[];
  }

  async assertWritable(): Promise<void> {
    await this.entries();
  }

  async updateMany(changes: ReadonlyArray<readonly [string, HistoryItem | null]>): Promise<void> {
    if (changes.length === 0) return;
    await withFileLock(this.path, this.options.lock, async () => {
      const bytes = await readFileIfExists(this.path);
      if (bytes === null && changes.every(([, item]) => item === null)) return;
      const before = bytes === null ? [] : this.parse(bytes);
      // Cline keeps its own order (oldest first, appended); replace in place, append new ones.
      const after = applyChanges(before, changes);
      if (bytes !== null && JSON.stringify(after) === JSON.stringify(before)) return;
      await writeFileAtomic(this.path, JSON.stringify(after));
    });
  }
}
