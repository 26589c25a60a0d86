/**
 * What a device's saved sync state says about tasks whose files cannot be read: their pulled
 * changes wait (core/storage/task-defer.ts). Read only, so `roo-sync status` can tell it while
 * another process (a running `sync`, the extension) syncs the stores and holds the state.
 */
import { loadSyncState } from '../../storage/sync-state';
import { waitingTasks, type WaitingTask } from '../../storage/task-defer';
import { JsonFileSyncStateStore } from '../storage/json-file-sync-state-store';
import { deviceFolder } from './device-folder';

export async function savedWaitingTasks(dataDir: string, deviceId: string): Promise<WaitingTask[]> {
  const state = await loadSyncState(new JsonFileSyncStateStore(deviceFolder(dataDir, deviceId).syncState));
  return waitingTasks(state);
}
