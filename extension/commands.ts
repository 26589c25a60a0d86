/**
 * The ten commands of the palette (category "roo-sync") and the view's item commands. Each
 * handler asks for what it needs (input boxes, quick picks) unless its caller passed it, shows
 * a coded error to the user rather than throwing, and returns a small result object so that
 * scripts and tests can check what happened.
 */
import * as vscode from 'vscode';
import { isSyncError, SyncError } from '../core/errors';
import type { RooSyncController, SignInArgs } from './controller';
import { readSettings, updateSetting } from './settings';
import { notify } from './notices';
import { ACTION_COMMANDS, describeMigration, describeSyncNow, errorActions, offlineSignOutWarning, statusDetails, uiStateOf } from './ui-state';
import type { ViewNode } from './sync-view';

/** What a failed command returns (also shown to the user). */
export interface CommandError {
  error: { code: string; message: string };
}

function codeOf(error: unknown): { code: string; message: string } {
  if (isSyncError(error)) return { code: error.code, message: error.message };
  return { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) };
}

function isValidServerUrl(value: string): boolean {
  try {
    const url = new URL(value.trim());
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

async function askSignIn(partial: Partial<SignInArgs>): Promise<SignInArgs | undefined> {
  const serverUrl =
    partial.serverUrl ??
    (await vscode.window.showInputBox({
      title: 'roo-sync: Sign In (1/3)',
      prompt: 'The roo-sync relay to sync through',
      value: readSettings().serverUrl || 'https://',
      ignoreFocusOut: true,
      validateInput: (v) => (isValidServerUrl(v) ? undefined : 'An http:// or https:// URL, e.g. https://sync.example.com'),
    }));
  if (!serverUrl) return undefined;
  const email = partial.email ?? (await vscode.window.showInputBox({ title: 'roo-sync: Sign In (2/3)', prompt: 'Email of your roo-sync account', ignoreFocusOut: true, validateInput: (v) => (v.includes('@') ? undefined : 'An email address') }));
  if (!email) return undefined;
  const password = partial.password ?? (await vscode.window.showInputBox({ title: 'roo-sync: Sign In (3/3)', prompt: `Password for ${email}`, password: true, ignoreFocusOut: true }));
  if (!password) return undefined;
  return { serverUrl: serverUrl.trim(), email: email.trim(), password, ...(partial.deviceName ? { deviceName: partial.deviceName } : {}) };
}

/** The conflict a view node (or an id, or none: the one in the active diff editor) names. */
function conflictId(node: ViewNode | string | undefined): string | undefined {
  if (typeof node === 'string') return node;
  return node?.kind === 'conflict' ? node.conflict.id : undefined;
}

function deviceId(node: ViewNode | string): string {
  if (typeof node === 'string') return node;
  if (node?.kind === 'device') return node.device.id;
  throw new SyncError('COMMAND_TARGET_UNKNOWN', 'pick a device in the roo-sync view');
}

/** Runs the command of the button a notification's user chose (none: dismissed). */
function runAction(choice: string | undefined): void {
  const id = choice ? ACTION_COMMANDS[choice] : undefined;
  if (id) void vscode.commands.executeCommand(id);
}

export function registerCommands(controller: RooSyncController): vscode.Disposable[] {
  const log = controller.log;

  /** Runs a handler; a failure is logged, shown with its code, and returned as `{error}`. */
  const command = <A extends unknown[], R>(id: string, handler: (...args: A) => Promise<R>) =>
    vscode.commands.registerCommand(`roo-sync.${id}`, async (...args: A): Promise<R | CommandError> => {
      try {
        return await handler(...args);
      } catch (error) {
        const e = codeOf(error);
        log.error(`${id} failed`, error);
        void notify('error', `roo-sync: ${e.code}: ${e.message}`, ...errorActions(e.code)).then(runAction);
        return { error: e };
      }
    });

  const requireDevice = () => {
    const device = controller.device;
    if (device) return device;
    if (readSettings().enabled) throw new SyncError('AUTH_SIGNED_OUT', 'not signed in (roo-sync: Sign In)');
    throw new SyncError('SYNC_DISABLED', 'sync is off (roo-sync: Enable Sync)');
  };

  return [
    command('signIn', async (partial: Partial<SignInArgs> = {}) => {
      const args = await askSignIn(partial);
      if (!args) return { cancelled: true };
      const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'roo-sync: signing in…' }, () => controller.signIn(args));
      if (!readSettings().enabled) void notify('info', `roo-sync: signed in as ${args.email}. Sync is still off.`, 'Enable Sync').then(runAction);
      else void notify('info', `roo-sync: signed in to ${result.serverUrl} as ${args.email}; syncing this computer.`);
      return { deviceId: result.deviceId };
    }),
    command('signOut', async () => {
      const result = await controller.signOut();
      if (result.error) void notify('warning', `roo-sync: ${offlineSignOutWarning(result.error.code, result.deviceName)}`);
      else if (result.signedIn) void notify('info', `roo-sync: signed out; this computer is no longer one of your devices.${readSettings().enabled ? ' Sync stops until you sign in again.' : ''}`);
      else void notify('info', 'roo-sync: not signed in; nothing to sign out.');
      return { signedIn: result.signedIn, revoked: result.revoked };
    }),
    command('enableSync', async () => {
      await updateSetting('enabled', true);
      await controller.reconcile();
      if (!(await controller.isSignedIn())) {
        void notify('info', 'roo-sync: sync is on; sign in to start.', 'Sign In').then((choice) => {
          if (choice) void vscode.commands.executeCommand('roo-sync.signIn');
        });
      }
      return { status: controller.status.kind };
    }),
    command('disableSync', async () => {
      await updateSetting('enabled', false);
      await controller.reconcile();
      return { status: controller.status.kind };
    }),
    command('syncNow', async () => {
      requireDevice();
      // A store folder that appeared since sync started (and was not noticed) is taken in first.
      await controller.rediscover();
      const device = requireDevice();
      const summary = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'roo-sync: syncing…' }, () => device.syncNow());
      void notify('info', `roo-sync: ${describeSyncNow(summary)}.`);
      return { ...summary, status: statusDetails(device.status, device.sources, Date.now()).text };
    }),
    command('showStatus', async () => {
      const state = controller.status;
      let text: string;
      let details: string[];
      if (state.kind === 'device') ({ text, details } = statusDetails(state.status, state.sources ?? [], Date.now()));
      else {
        text = state.kind === 'error' ? `${state.code}: ${state.message}` : state.kind;
        const creds = await controller.credentials.load().catch(() => null);
        details = [creds ? `signed in as ${creds.email}` : 'not signed in', `relay ${creds?.serverUrl ?? (readSettings().serverUrl || 'not set')}`, ...(state.kind === 'off' ? ['sync is off on this computer'] : [])];
      }
      await vscode.commands.executeCommand('roo-sync.focus');
      const ui = uiStateOf(state);
      const actions = ui === 'off' ? ['Enable Sync', 'Show Log'] : ui === 'signedOut' ? ['Sign In', 'Show Log'] : ['Show Log'];
      void notify('info', `roo-sync: ${text}. ${details.join('; ')}.`, ...actions).then(runAction);
      return { state: state.kind, text, details };
    }),
    command('migrateLocalTasks', async () => {
      const device = requireDevice();
      const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: 'roo-sync: migrating local tasks', cancellable: true },
        (progress, token) => device.migrateLocalTasks(progress, token),
      );
      void notify(result.aborted ? 'warning' : 'info', `roo-sync: ${describeMigration({ ...result, unreadable: result.unreadable.length })}`);
      return { tasks: result.tasks, queued: result.queued, accepted: result.accepted, aborted: result.aborted, upToDate: result.upToDate, unreadable: result.unreadable.length };
    }),
    command('showConflicts', async () => {
      await vscode.commands.executeCommand('roo-sync.focus');
      const conflicts = controller.device?.viewConflicts() ?? [];
      if (conflicts.length === 0) {
        void notify('info', 'roo-sync: no unresolved conflicts.');
        return { conflicts: 0 };
      }
      const pick = await vscode.window.showQuickPick(conflicts.map((c) => ({ label: c.path, conflict: c })), { title: 'roo-sync: unresolved conflicts' });
      if (pick) await vscode.commands.executeCommand('roo-sync.conflict.open', { kind: 'conflict', conflict: pick.conflict });
      return { conflicts: conflicts.length };
    }),
    command('sendTaskToDevice', async (args: { deviceId?: string; text?: string; waitMs?: number } = {}) => {
      const device = requireDevice();
      return device.sendTaskToDevice(args);
    }),
    command('showLog', async () => {
      log.show();
      return {};
    }),
    command('conflict.open', async (node: ViewNode) => requireDevice().openConflict(conflictId(node))),
    command('conflict.acceptLocal', async (node?: ViewNode | string) => requireDevice().resolveConflict(conflictId(node), 'local')),
    command('conflict.acceptRemote', async (node?: ViewNode | string) => requireDevice().resolveConflict(conflictId(node), 'remote')),
    command('conflict.keepBoth', async (node?: ViewNode | string) => requireDevice().resolveConflict(conflictId(node), 'both')),
    command('device.sendMessage', async (node: ViewNode, text?: string) => requireDevice().controlRemote(deviceId(node), 'sendMessage', text)),
    command('device.approve', async (node: ViewNode) => requireDevice().controlRemote(deviceId(node), 'pressPrimaryButton')),
    command('device.deny', async (node: ViewNode) => requireDevice().controlRemote(deviceId(node), 'pressSecondaryButton')),
    command('device.cancel', async (node: ViewNode) => requireDevice().controlRemote(deviceId(node), 'cancelCurrentTask')),
    command('refreshView', async () => {
      await controller.device?.refreshDevices();
      controller.refreshView();
      return {};
    }),
  ];
}
