/**
 * The Node side of the task stores: find them on this machine, open them as TaskStores.
 */
import { FsTaskStore, type FsTaskStoreOptions } from './fs-task-store';
import type { DiscoveredTaskStore } from './discovery';
import { LegacyStateIndex, stateDbPathFor } from './vscode-state-db';

export { FsTaskStore, type FsTaskStoreOptions } from './fs-task-store';
export { discoverTaskStores, readEditorSettings, userDataLocations, type DiscoverOptions, type DiscoveredTaskStore, type DiscoveryResult, type StoreFoundBy, type UserDataLocation } from './discovery';
export { acquireFileLock, withFileLock, lockPathFor, STORE_LOCKED, DEFAULT_FILE_LOCK_OPTIONS, type FileLock, type FileLockOptions } from './file-lock';
export { STORE_CORRUPT_JSON, readStoreJson, writeFileAtomic } from './json-file';
export { LegacyStateIndex, readLegacyTaskHistory, stateDbPathFor, STATE_DB_FILE } from './vscode-state-db';

/**
 * A FsTaskStore over a store found by discoverTaskStores, with the editor's `state.vscdb` as
 * its legacy index (tasks from before the assistant wrote an index to disk get their
 * HistoryItems from there).
 */
export function openDiscoveredStore(found: DiscoveredTaskStore, options: Omit<FsTaskStoreOptions, 'source' | 'basePath' | 'layout'> = {}): FsTaskStore {
  const legacyIndex = options.legacyIndex ?? new LegacyStateIndex(stateDbPathFor(found.userDataDir), found.extensionId);
  return new FsTaskStore({ ...options, source: found.source, basePath: found.basePath, layout: found.layout, legacyIndex });
}
