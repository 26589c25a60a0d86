/** A SyncContext on in-memory parts with a fixed clock, for unit tests of apply and detect. */
import type { DeviceId } from '../../../core/ids';
import { MemoryBlobStore } from '../../../core/storage/memory-blob-store';
import type { SyncContext } from '../../../core/storage/sync-context';
import { SyncState } from '../../../core/storage/sync-state';

/** A fresh context for `deviceId`: empty sync state and stores, one HLC stamp, `now` fixed at `nowMs`. */
export function memorySyncContext(deviceId: DeviceId, nowMs: number): SyncContext {
  return {
    deviceId,
    state: new SyncState(),
    entryCache: new MemoryBlobStore(),
    blobs: new MemoryBlobStore(),
    stamp: () => `000000000000001-000000-${deviceId}`,
    observe: () => undefined,
    now: () => nowMs,
  };
}
