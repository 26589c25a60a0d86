/**
 * The durable record of what one backfill changed in one task store, so `--rollback` can undo
 * exactly that. A JSON-lines file per store (`<journalDir>/<store key>.jsonl`, every line
 * fsynced before the change it announces is made) plus the original bytes of every file the
 * backfill replaced (`<store key>.d/<n>`), copied before the first write. Records are appended a
 * batch of tasks at a time (one fsync per batch), always before the writes they announce:
 *
 *   {"t":"begin", basePath, source, at}
 *   {"t":"file", path, original: "<n>" | null}   before the first write of `path` (null: it did not exist)
 *   {"t":"task", taskId, created}                before the task's files are written
 *   {"t":"written", path, hash}                  after each write: sha256 of what the backfill left
 *   {"t":"end", at}
 *
 * A run cut short (Ctrl-C, kill) keeps appending to its journal when run again; a complete
 * journal is replaced by the next backfill that changes something ("the last backfill").
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rm, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { SyncError } from '../../errors';
import type { TaskSource } from '../../model/changes';
import { isErrnoCode, readFileIfExists, writeFileAtomic } from '../stores/json-file';

export type JournalRecord =
  | { t: 'begin'; basePath: string; source: TaskSource; at: number }
  | { t: 'file'; path: string; original: string | null }
  | { t: 'task'; taskId: string; created: boolean }
  | { t: 'written'; path: string; hash: string }
  | { t: 'end'; at: number };

/** The journal file of the store at `basePath` in `journalDir`. */
export function journalPathFor(journalDir: string, basePath: string, source: TaskSource): string {
  const key = createHash('sha256').update(`${source}\u0000${resolve(basePath)}`).digest('hex').slice(0, 20);
  return join(journalDir, `${source}-${key}.jsonl`);
}

/** The records of a journal, or null when there is none. Ignores a torn last line (a crash mid-append). */
export async function readJournal(path: string): Promise<JournalRecord[] | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (isErrnoCode(error, 'ENOENT')) return null;
    throw new SyncError('BACKFILL_JOURNAL_UNREADABLE', `cannot read the backfill journal ${path}`, { path }, { cause: error });
  }
  const records: JournalRecord[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    try {
      records.push(JSON.parse(line) as JournalRecord);
    } catch {
      if (i >= lines.length - 2) break; // the torn last line of an interrupted append
      throw new SyncError('BACKFILL_JOURNAL_UNREADABLE', `the backfill journal ${path} is damaged at line ${i + 1}`, { path, line: i + 1 });
    }
  }
  return records;
}

/** True when the journal ends with `end`. */
export function isComplete(records: readonly JournalRecord[]): boolean {
  return records[records.length - 1]?.t === 'end';
}

/** The sha256 of a file's bytes, or null when it does not exist. */
export async function fileHash(path: string): Promise<string | null> {
  const bytes = await readFileIfExists(path);
  return bytes === null ? null : createHash('sha256').update(bytes).digest('hex');
}

/** An open journal being appended to (one backfill run). */
export class BackfillJournal {
  private constructor(
    readonly path: string,
    private handle: FileHandle,
    private readonly recorded: Set<string>,
    private nextOriginal: number,
  ) {}

  /**
   * Opens the journal of the store for appending: continues an interrupted run, or starts a new
   * one (removing a complete journal of an earlier run and its originals).
   */
  static async open(path: string, basePath: string, source: TaskSource, now: () => number): Promise<BackfillJournal> {
    const existing = await readJournal(path);
    const recorded = new Set<string>();
    let next = 0;
    if (existing && !isComplete(existing)) {
      for (const r of existing) if (r.t === 'file') recorded.add(r.path);
      next = existing.filter((r) => r.t === 'file').length;
    } else {
      await removeJournal(path);
    }
    await mkdir(originalsDir(path), { recursive: true });
    const handle = await open(path, 'a');
    const journal = new BackfillJournal(path, handle, recorded, next);
    if (!existing || isComplete(existing)) await journal.append({ t: 'begin', basePath: resolve(basePath), source, at: now() });
    return journal;
  }

  /** Appends `records` and fsyncs them: one write, one datasync. */
  async append(...records: JournalRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.handle.write(records.map((r) => `${JSON.stringify(r)}\n`).join(''));
    await this.handle.datasync();
  }

  /**
   * Before a batch of writes: notes its tasks and, for each of `paths` not seen before in this
   * run, keeps its original bytes (or notes it was absent); all in one fsynced append.
   */
  async announce(tasks: ReadonlyArray<{ taskId: string; created: boolean }>, paths: Iterable<string>): Promise<void> {
    const records: JournalRecord[] = tasks.map(({ taskId, created }) => ({ t: 'task', taskId, created }));
    const fresh: string[] = [];
    for (const path of new Set(paths)) {
      if (this.recorded.has(path)) continue;
      const bytes = await readFileIfExists(path);
      let original: string | null = null;
      if (bytes !== null) {
        original = String(this.nextOriginal++);
        await writeFileAtomic(join(originalsDir(this.path), original), bytes);
      }
      records.push({ t: 'file', path, original });
      fresh.push(path);
    }
    await this.append(...records);
    for (const path of fresh) this.recorded.add(path);
  }

  /** After a batch of writes: what the backfill left in each of `paths` (one fsynced append). */
  async recordWritten(paths: readonly string[]): Promise<void> {
    const records: JournalRecord[] = [];
    for (const path of paths) {
      const hash = await fileHash(path);
      if (hash !== null) records.push({ t: 'written', path, hash });
    }
    await this.append(...records);
  }

  async close(finished: boolean, now: () => number): Promise<void> {
    if (finished) await this.append({ t: 'end', at: now() });
    await this.handle.close();
  }
}

/** Where a journal keeps the original bytes of the files it replaced. */
export function originalsDir(journalPath: string): string {
  return `${journalPath.replace(/\.jsonl$/, '')}.d`;
}

/** Deletes a journal and its originals. */
export async function removeJournal(path: string): Promise<void> {
  await rm(path, { force: true });
  await rm(originalsDir(path), { recursive: true, force: true });
}
