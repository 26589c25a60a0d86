/**
 * The device's own data folder: everything a device keeps besides its credentials.
 *
 *   <dataDir>/device.lock                      device-wide owner lock (one syncing process)
 *   <dataDir>/devices/<deviceId>/outbox.journal durable outbox (and its .lock)
 *   <dataDir>/devices/<deviceId>/sync-state.json
 *   <dataDir>/devices/<deviceId>/entries/      durable entry cache (FsEntryCache)
 *   <dataDir>/devices/<deviceId>/watch/<store>.json  watcher manifests, one per store
 *
 * State lives under the device id: signing in again registers a new device, whose change
 * numbering and sync state start afresh; the old folder can be removed.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';

export interface DeviceFolder {
  root: string;
  deviceLock: string;
  deviceDir: string;
  outbox: string;
  syncState: string;
  entries: string;
  /** The watcher manifest of the store at `basePath`. */
  watchState(basePath: string): string;
}

export function deviceFolder(dataDir: string, deviceId: string): DeviceFolder {
  const deviceDir = join(dataDir, 'devices', safeName(deviceId));
  return {
    root: dataDir,
    deviceLock: join(dataDir, 'device.lock'),
    deviceDir,
    outbox: join(deviceDir, 'outbox.journal'),
    syncState: join(deviceDir, 'sync-state.json'),
    entries: join(deviceDir, 'entries'),
    watchState: (basePath) => join(deviceDir, 'watch', `${createHash('sha256').update(basePath).digest('hex').slice(0, 16)}.json`),
  };
}

/** The lock a syncing process holds on a task store (beside its `tasks/` folder). */
export function storeLockPath(basePath: string): string {
  return join(basePath, '.roo-sync.lock');
}

function safeName(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, '_');
}
