/**
 * What a device's files on disk say about it, read without its locks and without changing
 * anything, so `roo-sync status` can tell it while another process (a running `sync`, the
 * extension) syncs the stores and holds the state: the saved sync state's cursor, file
 * conflicts and waiting tasks (core/storage/task-defer.ts), and the outbox journal's depth.
 * The saved state lags the live one by at most one save.
 */
import { isSyncError } from '../../errors';
import { loadSyncState } from '../../storage/sync-state';
import { waitingTasks, type WaitingTask } from '../../storage/task-defer';
import { FileOutbox } from '../outbox/file-outbox';
import { JsonFileSyncStateStore } from '../storage/json-file-sync-state-store';
import { deviceFolder } from './device-folder';

export interface SavedDeviceState {
  cursor: number;
  /** Changes queued in the outbox journal (0 when there is none yet; null when it could not be read, `queuedError` says why). */
  queued: number | null;
  queuedError?: { code: string; message: string };
  conflicts: number;
  waiting: WaitingTask[];
}

export async function savedDeviceState(dataDir: string, deviceId: string): Promise<SavedDeviceState> {
  const folder = deviceFolder(dataDir, deviceId);
  const state = await loadSyncState(new JsonFileSyncStateStore(folder.syncState));
  const saved: SavedDeviceState = { cursor: state.cursor, queued: null, conflicts: state.conflicts.length, waiting: waitingTasks(state) };
  try {
    saved.queued = (await FileOutbox.peekQueued(folder.outbox)) ?? 0;
  } catch (error) {
    // A status reports; it does not fail on its owner's journal.
    saved.queuedError = { code: isSyncError(error) ? error.code : 'OUTBOX_IO', message: error instanceof Error ? error.message : String(error) };
  }
  return saved;
}
