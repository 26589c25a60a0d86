/**
 * SyncStateStore on disk: one JSON file, replaced atomically (write a temp file, fsync it,
 * rename over the old one, fsync the folder), so a crash leaves the old or the new state,
 * never half of one.
 */
import { promises as fs } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { randomBytes } from 'node:crypto';
import { SyncError } from '../../errors';
import type { PersistedSyncState, SyncStateStore } from '../../storage/sync-state';
import { StorageErrorCode } from '../../storage/storage-errors';

export class JsonFileSyncStateStore implements SyncStateStore {
  /** @param path the state file, e.g. `<globalStorage>/roo-sync/sync-state.json`. */
  constructor(readonly path: string) {}

  async load(): Promise<PersistedSyncState | null> {
    let text: string;
    try {
      text = await fs.readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new SyncError(StorageErrorCode.STATE_IO, `cannot read ${this.path}`, { path: this.path }, { cause: err });
    }
    try {
      return JSON.parse(text) as PersistedSyncState;
    } catch (err) {
      throw new SyncError(StorageErrorCode.STATE_CORRUPT, `sync state ${this.path} is not valid JSON`, { path: this.path }, { cause: err });
    }
  }

  async save(state: PersistedSyncState): Promise<void> {
    const dir = dirname(this.path);
    const temp = join(dir, `.${basename(this.path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      await fs.mkdir(dir, { recursive: true });
      const handle = await fs.open(temp, 'w');
      try {
        await handle.writeFile(JSON.stringify(state));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await fs.rename(temp, this.path);
      await syncDir(dir);
    } catch (err) {
      await fs.rm(temp, { force: true }).catch(() => undefined);
      throw new SyncError(StorageErrorCode.STATE_IO, `cannot write ${this.path}`, { path: this.path }, { cause: err });
    }
  }
}

async function syncDir(dir: string): Promise<void> {
  // Directory fsync makes the rename durable; not every platform allows opening a folder.
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
