/**
 * The Node side of the task stores: find them on this machine, open them as TaskStores.
 */
import { FsTaskStore, type FsTaskStoreOptions } from './fs-task-store';
import type { DiscoveredTaskStore } from './discovery';

export { FsTaskStore, type FsTaskStoreOptions } from './fs-task-store';
export { discoverTaskStores, readEditorSettings, userDataLocations, type DiscoverOptions, type DiscoveredTaskStore, type DiscoveryResult, type StoreFoundBy, type UserDataLocation } from './discovery';
export { acquireFileLock, withFileLock, lockPathFor, STORE_LOCKED, DEFAULT_FILE_LOCK_OPTIONS, type FileLock, type FileLockOptions } from './file-lock';
export { STORE_CORRUPT_JSON, readStoreJson, writeFileAtomic } from './json-file';

/** A FsTaskStore over a store found by discoverTaskStores. */
export function openDiscoveredStore(found: DiscoveredTaskStore, options: Omit<FsTaskStoreOptions, 'source' | 'basePath' | 'layout'> = {}): FsTaskStore {
  return new FsTaskStore({ ...options, source: found.source, basePath: found.basePath, layout: found.layout });
}
