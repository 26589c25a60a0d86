/**
 * The CLI's device: core's SyncDevice with the CLI's credentials file and data folder, over the
 * stores a command selected (one per assistant), its log lines on stderr. `requireSyncing`
 * turns "this process syncs nothing" into the error a user can act on: not signed in, or the
 * store is synced by another process (named).
 */
import { mkdir } from 'node:fs/promises';
import { SyncError, isSyncError } from '../core/errors';
import { storeLockPath } from '../core/node/device/device-folder';
import { OwnerLock } from '../core/node/outbox/owner-lock';
import type { DeviceStatus } from '../core/device/device-status';
import { FileCredentialsStore } from '../core/node/credentials/file-credentials-store';
import { SyncDevice, type DeviceLogger, type SyncDeviceStore } from '../core/node/device/sync-device';
import { LegacyStateIndex, stateDbPathFor } from '../core/node/stores/vscode-state-db';
import type { SelectedStore } from '../core/node/stores/store-selection';
import { cliPaths } from './cli-paths';

export interface CliDeviceOptions {
  stores: readonly SelectedStore[];
  holderName: string;
  /** Watch and pull live (sync); false: only explicit rounds (migrate, sync --once, status). */
  live: boolean;
  logger?: DeviceLogger;
}

export async function openCliDevice(options: CliDeviceOptions): Promise<SyncDevice> {
  const paths = cliPaths();
  const stores: SyncDeviceStore[] = options.stores.map((s) => ({
    source: s.source,
    basePath: s.basePath,
    ...(s.found ? { legacyIndex: new LegacyStateIndex(stateDbPathFor(s.found.userDataDir), s.found.extensionId) } : {}),
  }));
  return SyncDevice.open({ credentials: new FileCredentialsStore(paths.credentials), dataDir: paths.dataDir, stores, holderName: options.holderName, live: options.live, logger: options.logger });
}

/** Throws CLI_NOT_SIGNED_IN, or STORE_IN_USE naming the process that syncs the stores, unless `device` syncs. */
export function requireSyncing(device: SyncDevice): void {
  const status = device.status;
  if (status.state === 'signed-out') throw new SyncError('CLI_NOT_SIGNED_IN', 'not signed in: run "roo-sync login --server URL --email EMAIL" first');
  if (device.storage) return;
  throw storeInUse(status);
}

/** STORE_IN_USE naming who holds the first followed store. */
export function storeInUse(status: DeviceStatus): SyncError {
  const followed = status.stores.find((s) => s.role === 'following');
  const holder = followed?.holder;
  const who = holder ? `${holder.name} (pid ${holder.pid} on ${holder.host})` : 'another process';
  return new SyncError('STORE_IN_USE', `the task store ${followed?.basePath ?? ''} is synced by ${who}; stop it first, or let it sync`, { basePath: followed?.basePath, holder });
}

/**
 * The owner lock of one task store for a command that changes it without being a device
 * (backfill, its rollback), removed even if the command ends with process.exit: STORE_IN_USE
 * naming the holder while another process has the store (a device that syncs it, another
 * backfill, a `status` looking at it). Creates the store's folder when missing (the lock lives in it).
 */
export async function lockStoreFor(basePath: string, holderName: string): Promise<OwnerLock> {
  await mkdir(basePath, { recursive: true });
  try {
    const lock = await OwnerLock.acquire(storeLockPath(basePath), { name: holderName, code: 'STORE_IN_USE', what: `the task store ${basePath}` });
    return lock.releaseAtExit();
  } catch (error) {
    if (!isSyncError(error, 'STORE_IN_USE') || error.details?.pid === undefined) throw error;
    const { pid, host, name } = error.details as { pid: number; host: string; name: string };
    throw new SyncError(
      'STORE_IN_USE',
      `the task store ${basePath} is in use by ${name} (pid ${pid} on ${host}); run this again once it ends (a device that syncs the store, such as "roo-sync sync" or the extension, gets your tasks from the relay itself)`,
      { basePath, holder: { pid, host, name } },
    );
  }
}

/** Log lines on stderr: `roo-sync: <level>: message key=value ...` (debug only with ROO_SYNC_DEBUG). */
export function stderrLogger(quiet: boolean): DeviceLogger {
  const write = (level: string, message: string, fields?: Record<string, unknown>): void => {
    if (quiet) return;
    const extra = fields ? Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ') : '';
    process.stderr.write(`roo-sync: ${level}: ${message}${extra ? ` ${extra}` : ''}\n`);
  };
  return {
    debug: (m, f) => (process.env['ROO_SYNC_DEBUG'] ? write('debug', m, f) : undefined),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  };
}

/**
 * Waits until `device` is online, at most `ms`; RELAY_UNREACHABLE (exit 5) when it is not by
 * then, naming the last connection error.
 */
export async function onlineWithin(device: SyncDevice, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      const last = device.status.lastError;
      reject(new SyncError('RELAY_UNREACHABLE', `cannot reach the relay within ${Math.round(ms / 1000)} s${last ? `: [${last.code}] ${last.message}` : ''}`));
    }, ms);
  });
  try {
    await Promise.race([device.waitUntilOnline(), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
