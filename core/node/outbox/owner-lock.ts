/**
 * One process owns a journal at a time: an exclusive lock file `<journal>.lock` holding the
 * owner's pid, host and a random token. A lock whose owner is no longer alive on this host
 * (a killed process) is stale and taken over; a live owner makes opening fail with OUTBOX_LOCKED.
 *
 * The lock file appears with its content in one step (written to a private temp file, then
 * hard-linked into place), so a reader never sees an empty lock from a half-finished owner.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { hostname } from 'node:os';
import { SyncError } from '../../errors';
import { removeIfExists } from './durable-fs';

interface LockContent {
  pid: number;
  host: string;
  token: string;
}

/** Paths locked by this process (a pid check cannot tell two owners in one process apart). */
const heldInProcess = new Set<string>();

export class OwnerLock {
  private released = false;

  private constructor(
    readonly path: string,
    private readonly token: string,
  ) {}

  /** Takes the lock at `path` or throws OUTBOX_LOCKED when a live owner holds it. */
  static async acquire(path: string): Promise<OwnerLock> {
    if (heldInProcess.has(path)) {
      throw new SyncError('OUTBOX_LOCKED', 'the outbox is already open in this process', { lock: path });
    }
    const content: LockContent = { pid: process.pid, host: hostname(), token: randomBytes(12).toString('hex') };
    heldInProcess.add(path);
    try {
      for (let attempt = 0; attempt < 5; attempt++) {
        if (await tryCreate(path, content)) return new OwnerLock(path, content.token);
        const holder = await readLock(path);
        if (holder === 'gone') continue;
        if (holder !== 'unreadable' && isLive(holder)) {
          throw new SyncError('OUTBOX_LOCKED', 'another process owns the outbox', {
            lock: path,
            pid: holder.pid,
            host: holder.host,
          });
        }
        // Re-read right before removing: another starter may have replaced the stale lock already.
        const again = await readLock(path);
        if (again === 'unreadable' || (typeof again === 'object' && typeof holder === 'object' && again.token === holder.token)) {
          await removeIfExists(path);
        }
      }
      throw new SyncError('OUTBOX_LOCKED', 'could not take the outbox lock', { lock: path });
    } catch (err) {
      heldInProcess.delete(path);
      throw err;
    }
  }

  /** Removes the lock if it is still ours. Safe to call twice. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    try {
      const holder = await readLock(this.path);
      if (typeof holder === 'object' && holder.token === this.token) await removeIfExists(this.path);
    } finally {
      heldInProcess.delete(this.path);
    }
  }
}

async function tryCreate(path: string, content: LockContent): Promise<boolean> {
  const temp = `${path}.${content.pid}.${content.token}.tmp`;
  await fsp.writeFile(temp, JSON.stringify(content));
  try {
    await fsp.link(temp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await removeIfExists(temp);
  }
}

async function readLock(path: string): Promise<LockContent | 'gone' | 'unreadable'> {
  let text: string;
  try {
    text = await fsp.readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw err;
  }
  try {
    const value = JSON.parse(text) as Partial<LockContent>;
    if (typeof value.pid === 'number' && typeof value.host === 'string' && typeof value.token === 'string') {
      return value as LockContent;
    }
  } catch {
    // fall through: not a lock this module wrote
  }
  return 'unreadable';
}

/** A lock from another host cannot be checked, so it counts as live. */
function isLive(holder: LockContent): boolean {
  if (holder.host !== hostname()) return true;
  if (holder.pid === process.pid) return false; // not in heldInProcess: left over by this process
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
