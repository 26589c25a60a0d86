/**
 * `roo-sync sync [--once] [--source ASSISTANT|PATH]...`: runs this machine as a device over the
 * discovered stores (one per assistant): live until SIGINT/SIGTERM (graceful: pushes what is
 * queued, closes the socket, releases the locks), or one push-pull round with `--once`. It owns
 * each store's lock, so it never runs beside the extension or another `sync` on the same store;
 * when another process holds it, it refuses and names the holder.
 */
import { homedir } from 'node:os';
import { Command } from 'commander';
import { describeStatus } from '../../core/device/device-status';
import { SyncError, isSyncError } from '../../core/errors';
import { selectStores, type SelectedStore } from '../../core/node/stores/store-selection';
import { TASK_SOURCES } from '../../core/model/changes';
import { cliPaths } from '../cli-paths';
import { requireSignedIn } from '../cli-session';
import { markPartialFailure, outputFor, withExitCodesHelp } from '../cli-output';
import { onlineWithin, openCliDevice, requireSyncing, stderrLogger } from '../device-runtime';
import { EXIT } from '../exit-codes';
import { saveLastSync } from '../last-sync';

interface SyncFlags {
  once?: boolean;
  source?: string[];
  json?: boolean;
}

export function registerSyncCommand(program: Command): void {
  withExitCodesHelp(
    program
      .command('sync')
      .description('Run this machine as a device: sync the task stores live until Ctrl-C (or SIGTERM), or one round with --once')
      .option('--once', 'one push-pull round, then exit')
      .option('--source <store...>', `only these stores: ${TASK_SOURCES.join('|')}, or a folder (PATH, or ASSISTANT=PATH); default every store found (one per assistant)`)
      .option('--json', 'print only the result (with --once), as JSON'),
  ).action(async (flags: SyncFlags, cmd: Command) => {
    const out = outputFor(cmd, !!flags.json);
    await requireSignedIn();
    const selected = onePerSource(await selectStores(flags.source ?? [], { home: homedir(), platform: process.platform, env: process.env }), (skipped, kept) =>
      process.stderr.write(`roo-sync: warn: ${skipped.basePath} is skipped: a device syncs one ${skipped.source} store (${kept.basePath}); name it with --source to sync it instead\n`),
    );
    if (selected.length === 0) throw new SyncError('CLI_STORE_NOT_FOUND', 'no task store of Roo Code, Zoo Code, Kilo Code or Cline on this machine; name one with --source PATH', { selector: '' });
    const dataDir = cliPaths().dataDir;
    const device = await whileLocked(() => openCliDevice({ stores: selected, holderName: 'roo-sync sync', live: !flags.once, logger: stderrLogger(!!flags.json) }));
    try {
      requireSyncing(device);
      if (flags.once) {
        await onlineWithin(device, 15_000);
        const report = await device.syncNow();
        await saveLastSync(dataDir, { at: Date.now(), deviceId: device.deviceId! });
        const { pushed, pulled } = report;
        out.result({ stores: selected.map((s) => ({ source: s.source, basePath: s.basePath })), pushed, pulled }, () => [
          `synced ${selected.length} store(s): sent ${pushed.accepted} change(s), received ${pulled.received}`,
          ...pushed.unreadable.map((u) => `  could not read ${u.source} ${u.taskId} [${u.code}] ${u.path ?? ''}`.trimEnd()),
          ...pulled.waiting.map((w) => `  ${w.changes} received change(s) for ${w.source} ${w.taskId} wait until it can be read [${w.code}] ${w.path ?? ''}`.trimEnd()),
        ]);
        markPartialFailure(pushed.unreadable.length + pulled.waiting.length);
        return;
      }
      await runLive(device, selected, dataDir);
    } finally {
      await device.close();
    }
  });
}

/**
 * Runs `fn` (opening the device, the first full round), again while a file of the store stays
 * locked (STORE_LOCKED): the assistant is writing, or a process killed while writing (this
 * command's own last run) left its `.lock` folder, which turns stale after 31 s. Exiting there
 * left a killed device down for good and what changed meanwhile unsent.
 */
async function whileLocked<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isSyncError(err, 'STORE_LOCKED') || attempt >= 6) throw err;
      process.stderr.write(`roo-sync: warn: ${err.message}; trying again\n`);
    }
  }
}

/** Syncs until SIGINT/SIGTERM or sign-out, printing each status change on stderr. */
async function runLive(device: Awaited<ReturnType<typeof openCliDevice>>, stores: readonly SelectedStore[], dataDir: string): Promise<void> {
  process.stderr.write(`roo-sync: syncing ${stores.map((s) => `${s.source} (${s.basePath})`).join(', ')} as device ${device.deviceId}; Ctrl-C to stop\n`);
  let lastLine = '';
  let lastSyncAt: number | null = null;
  // One full round first: the watcher reports changes from now on, not what is already there.
  try {
    await onlineWithin(device, 15_000);
    const first = await whileLocked(() => device.syncNow());
    for (const u of first.pushed.unreadable) process.stderr.write(`roo-sync: warn: could not read ${u.source} ${u.taskId} [${u.code}] ${u.path ?? ''}\n`);
  } catch (err) {
    if (!isSyncError(err, 'STORAGE_SYNC_FAILED') && !isSyncError(err, 'RELAY_UNREACHABLE')) throw err;
    process.stderr.write('roo-sync: offline: changes stay queued and go out when the relay is back\n');
  }
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      remove();
      resolve();
    };
    const remove = device.onStatus((status) => {
      const line = describeStatus(status);
      if (line !== lastLine) {
        lastLine = line;
        process.stderr.write(`roo-sync: ${line}\n`);
      }
      if (status.lastSyncAt !== null && status.lastSyncAt !== lastSyncAt) {
        lastSyncAt = status.lastSyncAt;
        void saveLastSync(dataDir, { at: status.lastSyncAt, deviceId: device.deviceId ?? '' }).catch(() => undefined);
      }
      if (status.state === 'signed-out') {
        process.exitCode = EXIT.auth;
        process.stderr.write('roo-sync: [AUTH_SIGNED_OUT] the relay refused this device; run "roo-sync login" again\n');
        stop();
      }
    });
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  process.stderr.write('roo-sync: stopping: pushing what is queued, then closing\n');
}

/** The first store of each assistant (a device syncs one store per assistant). */
export function onePerSource(stores: readonly SelectedStore[], onSkip: (skipped: SelectedStore, kept: SelectedStore) => void): SelectedStore[] {
  const kept = new Map<string, SelectedStore>();
  for (const store of stores) {
    const first = kept.get(store.source);
    if (first) onSkip(store, first);
    else kept.set(store.source, store);
  }
  return [...kept.values()];
}
