/**
 * The VS Code extension entry point (a thin shell over core's device). Sync is off by default:
 * until the user enables it and signs in, the extension reads and writes nothing, and
 * local-only use of the assistants is untouched.
 */
import { performance } from 'node:perf_hooks';
import * as vscode from 'vscode';
import { TASK_STORE_LAYOUTS } from '../core/stores/layouts';
import { registerCommands } from './commands';
import { RooSyncController } from './controller';
import { OutputLog } from './output-log';
import { readSettings } from './settings';
import { StatusBar } from './status-bar';
import { SyncView } from './sync-view';
import { testingApi, type RooSyncTestingApi } from './testing-api';

/** What other extensions get from `getExtension('roo-sync.roo-sync').exports`: nothing secret. */
export interface RooSyncApi {
  /** The status bar's state (`off`, `signed-out`, `starting`, `device`, `error`) and its text. */
  status(): { kind: string; text: string };
  /** Only when the extension host runs roo-sync's own tests (ROO_SYNC_TEST_HOOKS=1). */
  testing?: RooSyncTestingApi;
}

let controller: RooSyncController | undefined;

export function activate(context: vscode.ExtensionContext): RooSyncApi {
  const activationStarted = performance.now();
  const version = String((context.extension.packageJSON as { version?: unknown }).version ?? '0.0.0');
  const log = new OutputLog(readSettings().logLevel);
  const statusBar = new StatusBar();
  const view = new SyncView();
  controller = new RooSyncController(context, log, statusBar, view, version);
  const owned = controller;
  context.subscriptions.push(log, statusBar, view, ...registerCommands(owned), {
    dispose: () => void owned.dispose(),
  });
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration('rooSync.serverUrl')) void owned.serverUrlChanged();
      if (event.affectsConfiguration('rooSync')) void owned.reconcile();
      else if (TASK_STORE_LAYOUTS.some((l) => l.customPathSetting && event.affectsConfiguration(l.customPathSetting))) void owned.rediscover();
    }),
  );
  log.info(`roo-sync ${version} activated; sync is ${readSettings().enabled ? 'enabled' : 'off'}`);
  // Starting the device (when enabled) must not hold up activation or the assistant's host.
  void owned.reconcile().catch((error: unknown) => log.error('could not start sync', error));
  const api: RooSyncApi = { status: () => ({ kind: owned.status.kind, text: statusBar.view?.text ?? '' }) };
  const activateMs = performance.now() - activationStarted;
  log.debug(`activate() took ${activateMs.toFixed(1)} ms`);
  if (process.env['ROO_SYNC_TEST_HOOKS'] === '1') api.testing = testingApi(owned, statusBar, view, context, activateMs);
  return api;
}

export async function deactivate(): Promise<void> {
  const owned = controller;
  controller = undefined;
  await owned?.dispose();
}
