/**
 * The running device of this window: core's SyncDevice over the stores found here, its
 * credentials from SecretStorage, its status fed to the status bar and the view. The only
 * module of the extension that touches the device runtime.
 */
import type * as vscode from 'vscode';
import type { AuthSession } from '../core/client/auth-session';
import type { DeviceStatus } from '../core/device/device-status';
import { SyncError } from '../core/errors';
import type { OutputLog } from './output-log';
import type { RooSyncSettings } from './settings';
import type { ViewConflict, ViewDevice } from './sync-view';

/** What the view's device actions ask the assistant on another device to do (its API's method names). */
export type RemoteAction = 'sendMessage' | 'pressPrimaryButton' | 'pressSecondaryButton' | 'cancelCurrentTask';

export interface DeviceRuntimeOptions {
  context: vscode.ExtensionContext;
  session: AuthSession;
  settings: RooSyncSettings;
  log: OutputLog;
  version: string;
  onStatus(status: DeviceStatus): void;
  onDevicesChanged(): void;
}

export class DeviceRuntime {
  private constructor(readonly status: DeviceStatus) {}

  static async start(options: DeviceRuntimeOptions): Promise<DeviceRuntime> {
    options.log.info('starting sync');
    throw new SyncError('DEVICE_RUNTIME_MISSING', 'this build of roo-sync has no device runtime yet (core SyncDevice, issue #10)');
  }

  devices(): ViewDevice[] {
    return [];
  }

  viewConflicts(): ViewConflict[] {
    return [];
  }

  async syncNow(): Promise<void> {}

  async refreshDevices(): Promise<void> {}

  async sendTaskToDevice(_args: { deviceId?: string; text?: string }): Promise<{ commandId: string } | { cancelled: true }> {
    return { cancelled: true };
  }

  async openConflict(_id: string | undefined): Promise<void> {}

  async resolveConflict(_id: string | undefined, _choice: 'local' | 'remote' | 'both'): Promise<void> {}

  async controlRemote(_deviceId: string, _action: RemoteAction, _text?: string): Promise<void> {}

  async close(): Promise<void> {}
}
