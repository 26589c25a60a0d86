/**
 * Hooks for roo-sync's own extension-host tests, exported only when the host runs with
 * ROO_SYNC_TEST_HOOKS=1 (the test harness sets it): they let a test read what the UI shows and
 * check where the credentials are. Never part of the public API.
 */
import type * as vscode from 'vscode';
import type { DeviceCredentials } from '../core/ports/credentials-store';
import type { RooSyncController } from './controller';
import { contextKeys } from './context-keys';
import { recentNotices, type Notice } from './notices';
import type { UiContext } from './ui-state';
import type { StatusBar, StatusBarView } from './status-bar';
import type { SyncView, ViewModel } from './sync-view';

export interface RooSyncTestingApi {
  statusBar(): StatusBarView | undefined;
  view(): ViewModel;
  /** The labels of the view's top-level rows (none: its welcome content shows). */
  viewRoots(): string[];
  /** The view's device rows as the tree shows them: label, description, context value (which menu items apply). */
  viewDeviceItems(): { id: string; label: string; description: string; contextValue: string }[];
  /** The notifications roo-sync showed in this host, oldest first. */
  notices(): Notice[];
  /** The context keys roo-sync set for package.json's `when` clauses, as last set. */
  contextKeys(): Partial<UiContext>;
  /** The credentials as SecretStorage holds them. */
  storedCredentials(): Promise<DeviceCredentials | null>;
  controller: RooSyncController;
  /** Everything roo-sync keeps in globalState and workspaceState, as JSON text. */
  mementos(): string;
  /** The folder VS Code gives roo-sync (created only once sync starts). */
  globalStoragePath: string;
  /** How long `activate()` took (ms), measured inside it. */
  activateMs: number;
}

export function testingApi(controller: RooSyncController, statusBar: StatusBar, view: SyncView, context: vscode.ExtensionContext, activateMs: number): RooSyncTestingApi {
  return {
    statusBar: () => statusBar.view,
    view: () => view.current,
    viewRoots: () => view.rootLabels(),
    viewDeviceItems: () =>
      view.deviceItems().map((item) => ({
        id: item.id ?? '',
        label: typeof item.label === 'string' ? item.label : (item.label?.label ?? ''),
        description: typeof item.description === 'string' ? item.description : '',
        contextValue: item.contextValue ?? '',
      })),
    notices: () => recentNotices(),
    contextKeys: () => contextKeys(),
    storedCredentials: () => controller.credentials.load(),
    controller,
    globalStoragePath: context.globalStorageUri.fsPath,
    activateMs,
    mementos: () => {
      const dump = (m: vscode.Memento) => Object.fromEntries(m.keys().map((k) => [k, m.get(k)]));
      return JSON.stringify({ global: dump(context.globalState), workspace: dump(context.workspaceState) });
    },
  };
}
