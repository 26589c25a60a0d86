/**
 * The one status a device reports, rendered by every shell (the CLI's status lines, the
 * extension's status bar and view). Pure data: SyncDevice emits a new value on every change.
 */
import type { TaskSource } from '../model/changes';
import { layoutOf } from '../stores/layouts';
import type { UnrestorableEntry } from '../storage/hybrid-storage';
import type { WaitingTask } from '../storage/task-defer';

/**
 * - `signed-out`: no credentials, or the relay refused the refresh token (never retried);
 * - `connecting`: (re)connecting to the relay;
 * - `syncing`: online and pushing, pulling or applying;
 * - `synced`: online, nothing queued, nothing to pull;
 * - `offline`: the relay is unreachable; `queued` changes wait in the outbox;
 * - `following`: another process holds every store's owner lock and syncs them (see `holder`);
 * - `closed`: the device was closed.
 */
export type DeviceState = 'signed-out' | 'connecting' | 'syncing' | 'synced' | 'offline' | 'following' | 'closed';

/** Who holds a store's owner lock (another process). */
export interface LockHolder {
  pid: number;
  host: string;
  /** What the holder calls itself, e.g. `roo-sync sync` or `VS Code window`. */
  name: string;
}

/** One synced (or followed) task store. */
export interface DeviceStoreStatus {
  source: TaskSource;
  basePath: string;
  /** `syncing`: this process owns the store; `following`: `holder` does. */
  role: 'syncing' | 'following';
  holder?: LockHolder;
}

/** A synced entry that a stale rewrite (or a lost folder) dropped and that neither the entry cache nor the relay had. */
export type { UnrestorableEntry } from '../storage/hybrid-storage';

export interface DeviceStatus {
  state: DeviceState;
  /** Changes queued in the outbox and not yet acknowledged. */
  queued: number;
  /** Unresolved conflicts (file conflict copies waiting for the user). */
  conflicts: number;
  /** Highest log seq applied. */
  cursor: number;
  /** When the last sync round finished (ms since epoch), or null before the first. */
  lastSyncAt: number | null;
  stores: DeviceStoreStatus[];
  /** Entries lost to a stale rewrite that nothing could restore (empty in a healthy device). */
  unrestorable: UnrestorableEntry[];
  /**
   * Tasks whose files cannot be read (a corrupt file): their pulled changes wait, and are
   * applied once the files read again; every other task syncs meanwhile.
   */
  waiting: WaitingTask[];
  /** The last error (code and words), or null. */
  lastError: { code: string; message: string } | null;
  /** The signed-in account, when known. */
  account: { email: string; userId: string; deviceId: string; serverUrl: string } | null;
}

/** What the shell knows beyond the status that changes how it reads. */
export interface DescribeStatusOptions {
  /**
   * The assistants the user limited sync to (a setting or flag, named in `by`, e.g.
   * `rooSync.sources`); absent or empty: every store found. With no store found, the line then
   * names the filter instead of saying no assistant's tasks are here.
   */
  sourceFilter?: { sources: readonly TaskSource[]; by: string };
}

/** "Cline", "Roo Code or Cline", "Roo Code, Kilo Code or Cline". */
function assistantNames(sources: readonly TaskSource[]): string {
  const names = sources.map((s) => layoutOf(s).displayName);
  return names.length <= 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;
}

/** Why no task store syncs here, in words. */
function noStore(filter: DescribeStatusOptions['sourceFilter']): string {
  if (filter && filter.sources.length > 0) return `no ${assistantNames(filter.sources)} task store here (${filter.by} limits sync to ${filter.sources.join(', ')})`;
  return 'no task store (no Roo Code, Zoo Code, Kilo Code or Cline tasks found here)';
}

/** A status line a person can read, for logs and the CLI. */
export function describeStatus(status: DeviceStatus, options: DescribeStatusOptions = {}): string {
  switch (status.state) {
    case 'signed-out':
      return 'signed out';
    case 'connecting':
      return status.queued > 0 ? `connecting (${status.queued} queued)` : 'connecting';
    case 'syncing':
      return status.queued > 0 ? `syncing (${status.queued} pending)` : 'syncing';
    case 'synced':
      if (status.conflicts > 0) return `synced, ${status.conflicts} conflict${status.conflicts === 1 ? '' : 's'}`;
      if (status.waiting.length > 0) return `synced, ${status.waiting.length} task${status.waiting.length === 1 ? '' : 's'} cannot be read`;
      // Presence and remote commands still work, but no task reaches this machine's disk.
      return status.stores.length === 0 ? `synced, ${noStore(options.sourceFilter)}` : 'synced';
    case 'offline':
      return `offline, ${status.queued} queued`;
    case 'following': {
      const holder = status.stores.find((s) => s.holder)?.holder;
      return holder ? `following ${holder.name} (pid ${holder.pid} on ${holder.host})` : 'following another process';
    }
    case 'closed':
      return 'closed';
  }
}
