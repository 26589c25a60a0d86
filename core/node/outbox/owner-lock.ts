/**
 * One process owns a journal at a time: an exclusive lock file `<journal>.lock` holding the
 * owner's pid, host and a random token. A lock whose owner is no longer alive on this host
 * (a killed process) is stale and taken over; a live owner makes opening fail with OUTBOX_LOCKED.
 *
 * The lock file appears with its content in one step (written to a private temp file, then
 * hard-linked into place), so a reader never sees an empty lock from a half-finished owner.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp, readFileSync, unlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { SyncError } from '../../errors';
import { removeIfExists } from './durable-fs';

interface LockContent {
  pid: number;
  host: string;
  token: string;
  /** What the holder calls itself (`roo-sync sync`, `VS Code window`), when it said. */
  name?: string;
}

/** Who holds a lock (another live process), as read from its lock file. */
export interface LockHolderInfo {
  pid: number;
  host: string;
  name: string;
}

export interface OwnerLockOptions {
  /** What this process calls itself, written into the lock for others to read. */
  name?: string;
  /** The error code when a live owner holds the lock. Default OUTBOX_LOCKED. */
  code?: string;
  /** The words for that error. Default: "another process owns the outbox". */
  what?: string;
}

/** Paths locked by this process, with the name each holder gave (a pid check cannot tell two owners in one process apart). */
const heldInProcess = new Map<string, string | undefined>();

export class OwnerLock {
  private released = false;
  private exitHook: (() => void) | null = null;

  private constructor(
    readonly path: string,
    private readonly token: string,
  ) {}

  /**
   * Takes the lock at `path` or throws OUTBOX_LOCKED (or `options.code`) when a live owner holds
   * it; the error's details name the holder (`pid`, `host`, `name`).
   */
  static async acquire(path: string, options: OwnerLockOptions = {}): Promise<OwnerLock> {
    const code = options.code ?? 'OUTBOX_LOCKED';
    const what = options.what ?? 'the outbox';
    if (heldInProcess.has(path)) {
      const holder = heldInProcess.get(path);
      throw new SyncError(code, `${what} is already open in this process${holder ? ` (${holder})` : ''}`, { lock: path, pid: process.pid, host: hostname(), name: holder ?? 'this process' });
    }
    const content: LockContent = { pid: process.pid, host: hostname(), token: randomBytes(12).toString('hex') };
    if (options.name !== undefined) content.name = options.name;
    heldInProcess.set(path, options.name);
    try {
      for (let attempt = 0; attempt < 5; attempt++) {
        if (await tryCreate(path, content)) return new OwnerLock(path, content.token);
        const holder = await readLock(path);
        if (holder === 'gone') continue;
        if (holder !== 'unreadable' && isLive(holder)) {
          throw new SyncError(code, `another process owns ${what}${holder.name ? ` (${holder.name}, pid ${holder.pid})` : ` (pid ${holder.pid})`}`, {
            lock: path,
            pid: holder.pid,
            host: holder.host,
            name: holder.name ?? 'unknown process',
          });
        }
        // Re-read right before removing: another starter may have replaced the stale lock already.
        const again = await readLock(path);
        if (again === 'unreadable' || (typeof again === 'object' && typeof holder === 'object' && again.token === holder.token)) {
          await removeIfExists(path);
        }
      }
      throw new SyncError(code, `could not take the lock of ${what}`, { lock: path });
    } catch (err) {
      heldInProcess.delete(path);
      throw err;
    }
  }

  /**
   * Also removes the lock if the process exits without releasing it: a command that ends with
   * `process.exit` (a second Ctrl-C) skips its `finally` blocks, and a lock left in a shared
   * folder would count as live from another host. Returns the lock.
   */
  releaseAtExit(): this {
    if (this.exitHook || this.released) return this;
    this.exitHook = () => {
      try {
        if ((JSON.parse(readFileSync(this.path, 'utf8')) as Partial<LockContent>).token === this.token) unlinkSync(this.path);
      } catch {
        // gone, or not ours any more
      }
    };
    process.once('exit', this.exitHook);
    return this;
  }

  /** Removes the lock if it is still ours. Safe to call twice. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if (this.exitHook) process.removeListener('exit', this.exitHook);
    this.exitHook = null;
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
      if (value.name !== undefined && typeof value.name !== 'string') delete value.name;
      return value as LockContent;
    }
  } catch {
    // fall through: not a lock this module wrote
  }
  return 'unreadable';
}

/** The holder of a lock error's details (OwnerLock.acquire), or null when they name none. */
export function lockHolderOf(err: SyncError): LockHolderInfo | null {
  const d = err.details;
  if (!d || typeof d.pid !== 'number' || typeof d.host !== 'string') return null;
  return { pid: d.pid, host: d.host, name: typeof d.name === 'string' ? d.name : 'unknown process' };
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
