/**
 * SyncStateStore on disk: the header (cursor, files, journal, clock) in one JSON file and each
 * task's state in its own file in `<path>.d/`, so a save writes only the tasks that changed.
 * Every file is replaced atomically (temp file, fsync, rename; then the folder is fsynced); the
 * header is written last. A crash between two files leaves some tasks newer than the header,
 * which the engine tolerates (its writes are idempotent). `loadPaged` reads the header and the
 * folder's listing only; each task's file is read when the engine first uses the task, so a
 * device with thousands of tasks does not hold them all in memory. The waiting log (changes that
 * wait for a task's files, core/storage/task-defer.ts) is `<path>.waiting`, one JSON record per
 * line, appended and fsynced; a line cut short by a crash at its end is left out.
 */
import { promises as fs, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { SyncError } from '../../errors';
import type { PagedSyncState, PersistedHeader, PersistedSyncState, PersistedTask, SyncStateStore, WaitingRecord } from '../../storage/sync-state';
import { StorageErrorCode } from '../../storage/storage-errors';

/** Task files written at once. */
const WRITE_CONCURRENCY = 16;

export class JsonFileSyncStateStore implements SyncStateStore {
  private readonly tasksDir: string;

  /** @param path the header file, e.g. `<globalStorage>/roo-sync/sync-state.json`. */
  constructor(readonly path: string) {
    this.tasksDir = `${path}.d`;
  }

  async load(): Promise<PersistedSyncState | null> {
    const paged = await this.loadPaged();
    if (paged.header === null) return null;
    const tasks: Record<string, PersistedTask> = { ...(paged.header.tasks ?? {}) };
    for (const key of paged.tasks.keys) {
      const task = paged.tasks.read(key);
      if (task !== null) tasks[key] = task;
    }
    return { ...paged.header, tasks } as PersistedSyncState;
  }

  async loadPaged(): Promise<PagedSyncState> {
    const header = await this.readJson(this.path);
    if (header !== undefined && (typeof header !== 'object' || header === null)) throw corrupt(this.path, 'not an object');
    let names: string[] = [];
    try {
      // Task files without a header (the first save cut short) are not a state: they are ignored, as by load.
      if (header !== undefined) names = await fs.readdir(this.tasksDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw io(this.tasksDir, err);
    }
    // Temp files of an interrupted save do not end in .json.
    const keys = names.filter((name) => name.endsWith('.json')).map((name) => decodeURIComponent(name.slice(0, -'.json'.length)));
    return { header: header === undefined ? null : (header as PersistedHeader), tasks: { keys, read: (key) => this.readTask(key) } };
  }

  /** One task's saved state, read synchronously (the engine pages it in where it first uses it), or null. */
  private readTask(key: string): PersistedTask | null {
    const path = this.taskPath(key);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw io(path, err);
    }
    return parseJson(path, text) as PersistedTask;
  }

  private taskPath(key: string): string {
    return join(this.tasksDir, `${encodeURIComponent(key)}.json`);
  }

  async save(state: PersistedSyncState): Promise<void> {
    const { tasks, ...header } = state;
    await this.saveChanges(header, new Map(Object.entries(tasks)));
  }

  async saveChanges(header: PersistedHeader, tasks: ReadonlyMap<string, PersistedTask>): Promise<void> {
    if (tasks.size > 0) {
      await mkdir(this.tasksDir);
      const entries = [...tasks];
      for (let i = 0; i < entries.length; i += WRITE_CONCURRENCY) {
        await Promise.all(
          entries.slice(i, i + WRITE_CONCURRENCY).map(([key, task]) => writeAtomic(this.taskPath(key), task, false)),
        );
      }
      await syncDir(this.tasksDir);
    }
    await mkdir(dirname(this.path));
    await writeAtomic(this.path, { ...header, tasks: {} }, true);
  }

  private get waitingPath(): string {
    return `${this.path}.waiting`;
  }

  async appendWaiting(records: readonly WaitingRecord[]): Promise<void> {
    if (records.length === 0) return;
    await mkdir(dirname(this.path));
    try {
      const handle = await fs.open(this.waitingPath, 'a+');
      try {
        // A record cut short (a crash, a write that failed part-way) would join the next one
        // into a line that does not parse: the log is cut back to its last whole record first.
        const { size } = await handle.stat();
        const whole = await wholeRecordsEnd(handle, size);
        if (whole < size) await handle.truncate(whole);
        await handle.writeFile(waitingLines(records));
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (err) {
      throw io(this.waitingPath, err);
    }
  }

  async loadWaiting(): Promise<WaitingRecord[]> {
    let text: string;
    try {
      text = await fs.readFile(this.waitingPath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw io(this.waitingPath, err);
    }
    const lines = text.split('\n');
    // The last line is empty, or a record a crash cut short (appends end with a newline).
    const complete = lines.slice(0, -1);
    return complete.map((line) => {
      const record = parseJson(this.waitingPath, line) as Partial<{ k: unknown; c: unknown; reset: unknown }>;
      if (typeof record?.k !== 'string' || (record.reset !== true && (typeof record.c !== 'object' || record.c === null))) throw corrupt(this.waitingPath, 'not a waiting record');
      return record as WaitingRecord;
    });
  }

  async replaceWaiting(records: readonly WaitingRecord[]): Promise<void> {
    await mkdir(dirname(this.path));
    await writeTextAtomic(this.waitingPath, waitingLines(records), true);
  }

  /** The parsed file, or undefined when it does not exist. */
  private async readJson(path: string): Promise<unknown> {
    let text: string;
    try {
      text = await fs.readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw io(path, err);
    }
    return parseJson(path, text);
  }
}

function parseJson(path: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw corrupt(path, 'not valid JSON', err);
  }
}

async function mkdir(dir: string): Promise<void> {
  try {
    await fs.mkdir(dir, { recursive: true });
  } catch (err) {
    throw io(dir, err);
  }
}

/** Waiting records as the log holds them: one JSON text per line, each ending with a newline. */
function waitingLines(records: readonly WaitingRecord[]): string {
  return records.map((record) => `${JSON.stringify(record)}\n`).join('');
}

/** Where the log's last whole record ends (just after its newline), 0 when it has none. */
async function wholeRecordsEnd(handle: fs.FileHandle, size: number): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024);
  for (let end = size; end > 0; ) {
    const start = Math.max(0, end - chunk.length);
    const { bytesRead } = await handle.read(chunk, 0, end - start, start);
    const newline = chunk.subarray(0, bytesRead).lastIndexOf(0x0a);
    if (newline >= 0) return start + newline + 1;
    end = start;
  }
  return 0;
}

async function writeAtomic(path: string, value: unknown, syncFolder: boolean): Promise<void> {
  await writeTextAtomic(path, JSON.stringify(value), syncFolder);
}

async function writeTextAtomic(path: string, text: string, syncFolder: boolean): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const handle = await fs.open(temp, 'w');
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, path);
    if (syncFolder) await syncDir(dir);
  } catch (err) {
    await fs.rm(temp, { force: true }).catch(() => undefined);
    throw io(path, err);
  }
}

async function syncDir(dir: string): Promise<void> {
  // Folder fsync makes the renames durable; not every platform allows opening a folder.
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(dir, 'r');
    await handle.sync();
  } catch {
    /* best effort */
  } finally {
    await handle?.close();
  }
}

function io(path: string, err: unknown): SyncError {
  return new SyncError(StorageErrorCode.STATE_IO, `cannot read or write ${path}`, { path }, { cause: err });
}

function corrupt(path: string, reason: string, err?: unknown): SyncError {
  return new SyncError(StorageErrorCode.STATE_CORRUPT, `sync state ${path} is ${reason}`, { path }, { cause: err });
}
