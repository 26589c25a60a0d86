/**
 * `backfill --rollback`: undoes the last backfill of a store from its journal. Each file the
 * backfill replaced gets its original bytes back (or is removed when the backfill created it),
 * and task folders it created are removed once empty, so an untouched store ends byte-identical
 * to before the backfill. A file changed since the backfill (the assistant wrote to the task
 * again) is left as it is and listed; when that file is the index, the tasks the backfill
 * created are taken out of it entry by entry instead.
 */
import { readdir, readFile, rmdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SyncError } from '../../errors';
import type { TaskId } from '../../ids';
import { isErrnoCode, writeFileAtomic } from '../stores/json-file';
import type { FsTaskStore } from '../stores/fs-task-store';
import { fileHash, journalPathFor, originalsDir, readJournal, removeJournal, type JournalRecord } from './backfill-journal';
import { join } from 'node:path';

export interface RollbackResult {
  journal: string;
  /** Tasks the backfill had created (now removed) and merged (now restored). */
  removedTasks: number;
  restoredTasks: number;
  /** Files given their original bytes back, and files removed. */
  restoredFiles: number;
  removedFiles: number;
  /** Files changed since the backfill, left as they are. */
  keptChanged: string[];
}

export async function rollbackBackfill(options: { target: FsTaskStore; journalDir: string }): Promise<RollbackResult> {
  const { target } = options;
  const path = journalPathFor(options.journalDir, target.basePath, target.source);
  const records = await readJournal(path);
  if (!records || records.length === 0) {
    throw new SyncError('BACKFILL_NOTHING_TO_ROLL_BACK', `no backfill of ${target.basePath} to roll back`, { basePath: target.basePath });
  }
  const originals = new Map<string, string | null>();
  const written = new Map<string, string>();
  const created: string[] = [];
  let merged = 0;
  for (const r of records as JournalRecord[]) {
    if (r.t === 'file') originals.set(r.path, r.original);
    else if (r.t === 'written') written.set(r.path, r.hash);
    else if (r.t === 'task') {
      if (r.created) created.push(r.taskId);
      else merged += 1;
    }
  }
  const result: RollbackResult = { journal: path, removedTasks: created.length, restoredTasks: merged, restoredFiles: 0, removedFiles: 0, keptChanged: [] };
  let indexChanged = false;
  for (const [file, original] of originals) {
    const current = await fileHash(file);
    const left = written.get(file);
    if (left !== undefined && current !== left) {
      result.keptChanged.push(file);
      if (file === target.indexPath) indexChanged = true;
      continue;
    }
    if (original === null) {
      try {
        await unlink(file);
        result.removedFiles += 1;
      } catch (error) {
        if (!isErrnoCode(error, 'ENOENT')) throw error;
      }
    } else {
      await writeFileAtomic(file, await readFile(join(originalsDir(path), original)));
      result.restoredFiles += 1;
    }
  }
  for (const taskId of created) {
    const dir = target.taskDir(taskId);
    if (indexChanged) await removeIndexEntry(target, taskId as TaskId);
    await removeIfEmpty(dir);
  }
  // The tasks folder itself, when the backfill made it (a store that was empty).
  if (created.length > 0) await removeIfEmpty(target.tasksDir);
  if (target.indexPath && originals.get(target.indexPath) === null) await removeIfEmpty(dirname(target.indexPath));
  await removeJournal(path);
  return result;
}

/** Takes one task out of the store's index (the index changed since the backfill). */
async function removeIndexEntry(target: FsTaskStore, taskId: TaskId): Promise<void> {
  // deleteTask removes the index entry first, then the folder; the folder holds only what the
  // assistant wrote since (our files are gone), which the caller keeps: so only the entry goes.
  const dir = target.taskDir(taskId);
  let names: string[] = [];
  try {
    names = await readdir(dir);
  } catch {
    names = [];
  }
  if (names.length === 0) await target.deleteTask(taskId);
}

async function removeIfEmpty(dir: string): Promise<void> {
  try {
    await rmdir(dir);
  } catch (error) {
    if (!isErrnoCode(error, 'ENOENT') && !isErrnoCode(error, 'ENOTEMPTY') && !isErrnoCode(error, 'EEXIST')) throw error;
  }
}
