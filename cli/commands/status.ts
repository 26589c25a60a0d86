/**
 * `roo-sync status [--json]`: where sync stands on this machine: the relay (reachable, its
 * version when it says), the account and device, the local task stores (assistant, path, tasks,
 * size), the outbox depth, the last sync, unresolved conflicts, and who syncs the stores when
 * another process does. Reads only: it never syncs.
 */
import { homedir } from 'node:os';
import { Command } from 'commander';
import { RelayAuthClient } from '../../core/client/relay-auth-client';
import { FileCredentialsStore } from '../../core/node/credentials/file-credentials-store';
import { planMigration } from '../../core/node/migrate/migration-plan';
import { openDiscoveredStore } from '../../core/node/stores';
import { FsTaskStore } from '../../core/node/stores/fs-task-store';
import { selectStores } from '../../core/node/stores/store-selection';
import { savedDeviceState } from '../../core/node/device/saved-device-state';
import type { WaitingTask } from '../../core/storage/task-defer';
import { cliPaths } from '../cli-paths';
import { formatMb, outputFor, withExitCodesHelp } from '../cli-output';
import { openCliDevice, stderrLogger } from '../device-runtime';
import { loadLastSync } from '../last-sync';
import { onePerSource } from './sync';

export function registerStatusCommand(program: Command): void {
  withExitCodesHelp(program.command('status').description('Show where sync stands on this machine').option('--json', 'print the status as JSON')).action(async (flags: { json?: boolean }, cmd: Command) => {
    const out = outputFor(cmd, !!flags.json);
    const paths = cliPaths();
    const creds = await new FileCredentialsStore(paths.credentials).load();
    let relay: { serverUrl: string; reachable: boolean; version: string | null; error?: { code: string; message: string } } | null = null;
    if (creds) {
      try {
        const health = await new RelayAuthClient(creds.serverUrl, { timeoutMs: 5000 }).health();
        relay = { serverUrl: creds.serverUrl, reachable: true, version: health.version ?? null };
      } catch (err) {
        const e = err as { code?: string; message?: string };
        relay = { serverUrl: creds.serverUrl, reachable: false, version: null, error: { code: e.code ?? 'RELAY_UNREACHABLE', message: e.message ?? String(err) } };
      }
    }
    const selected = await selectStores([], { home: homedir(), platform: process.platform, env: process.env });
    const plan = await planMigration(selected.map((s) => (s.found ? openDiscoveredStore(s.found) : new FsTaskStore({ source: s.source, basePath: s.basePath }))));
    let device: { queued: number | null; queuedError?: { code: string; message: string }; conflicts: number; cursor: number; state: string; syncedBy: string | null; lastSyncAt: string | null; waiting: WaitingTask[] } | null = null;
    if (creds) {
      const synced = onePerSource(selected, () => undefined);
      const opened = await openCliDevice({ stores: synced, holderName: 'roo-sync status', live: false, logger: stderrLogger(true) });
      try {
        const status = opened.status;
        const holder = status.stores.find((s) => s.holder)?.holder;
        const last = await loadLastSync(paths.dataDir);
        // While another process syncs the stores, this one holds no live state: read the saved one.
        const figures = opened.storage !== null ? status : await savedDeviceState(paths.dataDir, creds.deviceId);
        device = {
          queued: figures.queued,
          ...('queuedError' in figures && figures.queuedError ? { queuedError: figures.queuedError } : {}),
          conflicts: figures.conflicts,
          cursor: figures.cursor,
          state: status.state,
          syncedBy: holder ? `${holder.name} (pid ${holder.pid} on ${holder.host})` : null,
          lastSyncAt: last && last.deviceId === creds.deviceId ? new Date(last.at).toISOString() : null,
          waiting: figures.waiting,
        };
      } finally {
        await opened.close();
      }
    }
    const result = {
      signedIn: creds !== null,
      account: creds ? { email: creds.email, serverUrl: creds.serverUrl, deviceId: creds.deviceId, deviceName: creds.deviceName } : null,
      relay,
      stores: plan.stores.map((s) => ({ source: s.source, basePath: s.basePath, tasks: s.tasks, bytes: s.bytes })),
      problems: plan.problems,
      device,
    };
    out.result(result, () => [
      creds ? `signed in as ${creds.email} on ${creds.serverUrl} (device "${creds.deviceName}", ${creds.deviceId})` : 'not signed in (roo-sync login --server URL --email EMAIL)',
      ...(relay ? [relay.reachable ? `relay: reachable${relay.version ? `, version ${relay.version}` : ''}` : `relay: unreachable [${relay.error?.code}] ${relay.error?.message}`] : []),
      `task stores: ${plan.stores.length}`,
      ...plan.stores.map((s) => `  ${s.source.padEnd(10)} ${String(s.tasks).padStart(6)} tasks ${formatMb(s.bytes).padStart(10)}  ${s.basePath}`),
      ...(device
        ? [
            device.queued === null ? `outbox: not known [${device.queuedError?.code}] ${device.queuedError?.message}` : `outbox: ${device.queued} change(s) queued`,
            `last sync: ${device.lastSyncAt ?? 'never (from this CLI)'}`,
            `conflicts: ${device.conflicts} unresolved`,
            ...(device.waiting.length > 0
              ? [
                  `cannot be read: ${device.waiting.length} task(s); what was received for them waits until they read again`,
                  ...device.waiting.map((w) => `  ${w.source} ${w.taskId}  ${w.changes} change(s) waiting  [${w.code}] ${w.path ?? ''}`.trimEnd()),
                ]
              : []),
            ...(device.syncedBy ? [`synced now by ${device.syncedBy}`] : []),
          ]
        : []),
    ]);
  });
}
