/**
 * The extension's one owner of sync state: signed in or not, the running device, and what the
 * status bar and the view show. Sync is off until `rooSync.enabled` is true and the device is
 * signed in; while off, nothing here reads or writes a file. Every start and stop goes through
 * one queue, so a settings change during a start never opens two devices.
 */
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import * as vscode from 'vscode';
import { MemoryCredentialsStore } from '../core/client/memory-credentials-store';
import { normaliseServerUrl } from '../core/client/relay-http';
import { signIn, signOut } from '../core/client/sign-in';
import type { DeviceCredentials } from '../core/ports/credentials-store';
import type { DeviceStatus } from '../core/device/device-status';
import { isSyncError, type SyncError } from '../core/errors';
import type { OutputLog } from './output-log';
import { SecretCredentialsStore } from './secret-credentials-store';
import { readSettings, updateSetting, type RooSyncSettings } from './settings';
import { describeDevice, type StatusBar, type StatusBarState } from './status-bar';
import { setContextKeys } from './context-keys';
import { notify } from './notices';
import { uiStateOf } from './ui-state';
import type { SyncView } from './sync-view';
import { DeviceRuntime } from './device-runtime';
import { watchStoreFolders } from './store-folder-watch';
import { findTaskStores, sameStores } from './task-stores';
import { TASK_STORE_LAYOUTS } from '../core/stores/layouts';

export interface SignInArgs {
  serverUrl: string;
  email: string;
  /** Used for this one request; never stored or logged. */
  password: string;
  deviceName?: string;
}

/** True when two server URLs name the same relay (normaliseServerUrl: host case, default port, trailing slash). */
function sameRelay(a: string, b: string): boolean {
  try {
    return normaliseServerUrl(a) === normaliseServerUrl(b);
  } catch {
    return a === b;
  }
}


export class RooSyncController implements vscode.Disposable {
  readonly credentials: SecretCredentialsStore;
  private runtime: DeviceRuntime | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private state: StatusBarState = { kind: 'off' };
  private disposed = false;
  /** The revoke of the device the last sign-in replaced, while it runs. */
  private revoking: Promise<void> = Promise.resolve();
  /** The settings the running device was opened with (a change restarts it). */
  private runtimeKey = '';
  /** The last context-key update (they are set in order). */
  private contextUpdate: Promise<void> = Promise.resolve();
  /** Watches for assistant store folders that appear while the device runs. */
  private storeFolders: vscode.Disposable | undefined;

  constructor(
    private readonly context: vscode.ExtensionContext,
    readonly log: OutputLog,
    private readonly statusBar: StatusBar,
    private readonly view: SyncView,
    private readonly version: string,
  ) {
    this.credentials = new SecretCredentialsStore(context.secrets, context.globalStorageUri.fsPath);
    this.render({ kind: 'off' });
  }

  /** What the status bar shows now. */
  get status(): StatusBarState {
    return this.state;
  }

  get device(): DeviceRuntime | null {
    return this.runtime;
  }

  /** Runs `work` after every earlier start/stop has finished. */
  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private render(state: StatusBarState): void {
    this.state = state;
    this.statusBar.show(state);
    if (state.kind !== 'device') {
      // Off and signed out leave the tree empty: its views-welcome content (package.json) says so, with buttons.
      const notice = state.kind === 'starting' ? 'Starting…' : state.kind === 'error' ? `${state.code}: ${state.message}` : undefined;
      this.view.update({ ...(notice ? { notice } : { welcome: true }), devices: [], conflicts: [] });
    }
    void this.updateContext();
  }

  /**
   * Sets the context keys the palette's and the view's `when` clauses read (ui-state.ts), from the
   * state shown, the settings and whether credentials are stored.
   */
  private updateContext(): Promise<void> {
    this.contextUpdate = this.contextUpdate.then(() => this.setContextNow()).catch((error: unknown) => this.log.warn('could not set the context keys', error));
    return this.contextUpdate;
  }

  private async setContextNow(): Promise<void> {
    const state = this.state;
    const signedIn = await this.credentials.load().then((c) => c !== null, () => false);
    await setContextKeys({ 'rooSync.state': uiStateOf(state), 'rooSync.enabled': readSettings().enabled, 'rooSync.signedIn': signedIn });
  }

  /**
   * `rooSync.serverUrl` changed (by hand: Sign In writes the URL it signed in to). The device keeps
   * the relay it signed in to; when the setting now names another one, the user is told and
   * offered a sign-in there, never switched silently.
   */
  async serverUrlChanged(): Promise<void> {
    const url = readSettings().serverUrl.replace(/\/+$/, '');
    const creds = await this.credentials.load().catch(() => null);
    if (!creds || !url || sameRelay(url, creds.serverUrl)) return;
    this.log.info(`rooSync.serverUrl is now ${url}; this device stays signed in to ${creds.serverUrl} until it signs in there`);
    const action = `Sign In to ${url}`;
    const keeps = readSettings().enabled ? ' and keeps syncing there' : '';
    const choice = await notify('warning', `roo-sync: rooSync.serverUrl is now ${url}, but this device is signed in to ${creds.serverUrl}${keeps}. Sign in to ${url} to switch.`, action);
    if (choice === action) await vscode.commands.executeCommand('roo-sync.signIn', { serverUrl: url });
  }

  /** Brings the device in line with the settings: starts it when enabled and signed in, stops it otherwise. */
  reconcile(): Promise<void> {
    return this.serial(() => this.reconcileNow());
  }

  /** reconcileDevice, then the context keys it changed are set (a command that ends has its palette in line). */
  private async reconcileNow(): Promise<void> {
    await this.reconcileDevice();
    await this.contextUpdate;
  }

  private async reconcileDevice(): Promise<void> {
    if (this.disposed) return;
    const settings = readSettings();
    this.log.setLevel(settings.logLevel);
    if (!settings.enabled) {
      await this.stopDevice();
      this.render({ kind: 'off' });
      return;
    }
    const key = JSON.stringify({ sources: settings.sources, workspaceSync: settings.workspaceSync, compressionThreshold: settings.compressionThreshold });
    if (this.runtime && this.runtimeKey === key) return;
    if (this.runtime) {
      this.log.info('sync settings changed; restarting sync');
      await this.stopDevice();
    }
    this.runtimeKey = key;
    let creds: DeviceCredentials | null;
    try {
      creds = await this.credentials.load();
    } catch (error) {
      // Damaged credentials (CREDENTIALS_UNREADABLE): Sign In replaces them, Sign Out forgets them.
      this.runtimeKey = '';
      this.log.error('could not read the stored sign-in', error);
      this.render({ kind: 'error', code: isSyncError(error) ? error.code : 'CREDENTIALS_UNREADABLE', message: (error as Error).message });
      return;
    }
    if (!creds) {
      this.render({ kind: 'signed-out' });
      return;
    }
    await this.startDevice(settings);
  }

  private async startDevice(settings: RooSyncSettings): Promise<void> {
    this.render({ kind: 'starting' });
    try {
      this.runtime = await DeviceRuntime.start({
        globalStorageUri: this.context.globalStorageUri,
        workerPath: join(this.context.extensionPath, 'dist', 'device-worker.js'),
        credentials: this.credentials,
        settings,
        log: this.log,
        onStatus: (status) => this.onDeviceStatus(status),
        onDevicesChanged: () => this.refreshView(),
      });
    } catch (error) {
      const code = isSyncError(error) ? error.code : 'DEVICE_START_FAILED';
      this.log.error('could not start sync', error);
      this.render({ kind: 'error', code, message: (error as Error).message });
      return;
    }
    this.log.info('sync started');
    this.storeFolders = watchStoreFolders(
      dirname(this.context.globalStorageUri.fsPath),
      TASK_STORE_LAYOUTS.map((l) => l.extensionId),
      () => void this.rediscover(),
      (error) => this.log.warn('cannot watch for new assistant store folders; they are found at the next start or Sync Now', error),
    );
    this.onDeviceStatus(this.runtime.status);
  }

  /**
   * Finds the task stores again (an assistant installed or its store folder created since sync
   * started, a custom storage path changed) and restarts the device when they differ from the
   * ones it runs with. Runs on a new store folder, a change of the assistants' storage settings
   * and Sync Now.
   */
  rediscover(): Promise<void> {
    return this.serial(async () => {
      const runtime = this.runtime;
      if (this.disposed || !runtime) return;
      const settings = readSettings();
      const found = await findTaskStores(this.context.globalStorageUri, settings.sources);
      if (this.runtime !== runtime || sameStores(found.stores, runtime.stores)) return;
      this.log.info(`the assistants' task stores changed (${found.stores.map((s) => s.basePath).join(', ') || 'none'}); restarting sync`);
      await this.stopDevice();
      await this.startDevice(settings);
    });
  }

  private onDeviceStatus(status: DeviceStatus): void {
    if (this.disposed || !this.runtime) return;
    const sources = this.runtime.sources;
    if (this.state.kind !== 'device' || this.state.status.state !== status.state) this.log.info(`status: ${describeDevice(status, sources)}`);
    const before = uiStateOf(this.state);
    this.state = { kind: 'device', status, sources };
    this.statusBar.show(this.state);
    this.refreshView();
    if (uiStateOf(this.state) !== before) void this.updateContext();
  }

  /** Rebuilds the view from the device (devices, presence, conflicts). */
  refreshView(): void {
    const runtime = this.runtime;
    if (!runtime || this.state.kind !== 'device') return;
    if (this.state.status.state === 'signed-out') {
      this.view.update({ welcome: true, devices: [], conflicts: [] }); // the views-welcome content for signed out shows
      return;
    }
    this.view.update({ devices: runtime.devices(), conflicts: runtime.viewConflicts() });
  }

  private async stopDevice(): Promise<void> {
    this.storeFolders?.dispose();
    this.storeFolders = undefined;
    const runtime = this.runtime;
    this.runtime = null;
    if (runtime) {
      await runtime.close();
      this.log.info('sync stopped');
    }
  }

  /**
   * Sign In: registers this machine as a device of the account and keeps its tokens in
   * SecretStorage. A sign-in while signed in replaces the device: the old one is revoked only
   * once the new one is saved; a sign-in that fails leaves the old one signed in and syncing.
   */
  signIn(args: SignInArgs): Promise<{ deviceId: string; serverUrl: string }> {
    return this.serial(async () => {
      const { serverUrl, email, password } = args;
      await this.stopDevice();
      // Damaged stored credentials are replaced by this sign-in (nothing to revoke: they name no usable device).
      const previous = await this.credentials.load().catch((error: unknown) => {
        if (!isSyncError(error, 'CREDENTIALS_UNREADABLE')) throw error;
        this.log.warn('the stored sign-in cannot be read; this sign-in replaces it', error);
        return null;
      });
      const device = { name: args.deviceName ?? `${hostname()} (VS Code)`, kind: 'vscode', platform: process.platform, clientVersion: this.version };
      let creds: DeviceCredentials;
      try {
        creds = (await signIn({ serverUrl, email, password, device }, this.credentials)).credentials;
      } catch (error) {
        if (previous) this.log.warn(`sign-in failed; still signed in as ${previous.email} on ${previous.serverUrl}`);
        await this.reconcileNow();
        throw error;
      }
      // Signed in from here on: whatever fails next, sync restarts with the new device.
      try {
        this.log.info(`signed in to ${creds.serverUrl} as ${creds.email}, device ${creds.deviceId}`);
        await updateSetting('serverUrl', creds.serverUrl).then(undefined, (error: unknown) => {
          this.log.warn('could not write rooSync.serverUrl to the settings (the sign-in stands)', error);
        });
      } finally {
        await this.reconcileNow();
      }
      // Replaced: revoke the old device, in the background (an old relay that does not answer must not hold this up).
      if (previous && previous.deviceId !== creds.deviceId) {
        this.revoking = this.revokeReplaced(previous).catch((error: unknown) => this.log.warn('could not revoke the previous device', error));
      }
      return { deviceId: creds.deviceId, serverUrl: creds.serverUrl };
    });
  }

  /** Revokes the device a sign-in replaced; says so when the relay could not be told. */
  private async revokeReplaced(previous: DeviceCredentials): Promise<void> {
    const old = await signOut(new MemoryCredentialsStore(previous));
    if (!old.error) {
      this.log.info(`the device this computer was before ("${previous.deviceName}" on ${previous.serverUrl}) is revoked`);
      return;
    }
    this.log.warn('could not revoke the previous device', old.error);
    void notify(
      'warning',
      `roo-sync: "${previous.deviceName}", the device this computer was on ${previous.serverUrl}, could not be signed out [${old.error.code}]: it stays registered. Sign it out from the web page's Devices view or with \`roo-sync devices sign-out "${previous.deviceName}"\`.`,
    );
  }

  /** Resolves once the revoke of a device a sign-in replaced has ended (tests). */
  async replacedDeviceRevoked(): Promise<void> {
    await this.revoking;
  }

  /** Sign Out: stops sync, revokes the device on the relay, forgets the tokens. `deviceName`: the device signed out. */
  signOut(): Promise<{ signedIn: boolean; revoked: boolean; error?: SyncError; deviceName?: string }> {
    return this.serial(async () => {
      await this.stopDevice();
      const deviceName = (await this.credentials.load().catch(() => null))?.deviceName;
      const result = { ...(await this.signOutStored()), ...(deviceName ? { deviceName } : {}) };
      if (result.error) this.log.warn('the relay could not be told; the device stays registered until revoked from another device', result.error);
      else if (result.signedIn) this.log.info(`signed out${result.revoked ? '; the device is revoked on the relay' : ''}`);
      await this.reconcileNow();
      return result;
    });
  }

  /** Core's signOut on the stored credentials; damaged ones (CREDENTIALS_UNREADABLE) are forgotten, with the error. */
  private async signOutStored(): Promise<{ signedIn: boolean; revoked: boolean; error?: SyncError }> {
    try {
      return await signOut(this.credentials);
    } catch (error) {
      if (!isSyncError(error, 'CREDENTIALS_UNREADABLE')) throw error;
      await this.credentials.clear();
      return { signedIn: true, revoked: false, error };
    }
  }

  /** True when signed in (credentials in SecretStorage). */
  async isSignedIn(): Promise<boolean> {
    return (await this.credentials.load()) !== null;
  }

  /** Stops sync (flushing what is queued while online). Idempotent. */
  async dispose(): Promise<void> {
    this.disposed = true;
    await this.serial(() => this.stopDevice());
  }
}
