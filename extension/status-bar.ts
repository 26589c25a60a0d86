/**
 * The status bar item: one glance at the device (synced / syncing / pending N / offline, N
 * queued / N conflicts / signed out / off). Clicking it runs Show Sync Status.
 */
import * as vscode from 'vscode';
import { describeStatus, type DeviceStatus } from '../core/device/device-status';
import type { TaskSource } from '../core/model/changes';

/** What the item shows: the device's status, or why there is no device. */
export type StatusBarState =
  | { kind: 'off' }
  | { kind: 'signed-out' }
  | { kind: 'starting' }
  /** `sources`: the `rooSync.sources` the device runs with (empty: every store found). */
  | { kind: 'device'; status: DeviceStatus; sources?: readonly TaskSource[] }
  | { kind: 'error'; code: string; message: string };

/** The device's status in words, naming the `rooSync.sources` filter when it leaves no store to sync. */
export function describeDevice(status: DeviceStatus, sources: readonly TaskSource[] = []): string {
  return describeStatus(status, sources.length > 0 ? { sourceFilter: { sources, by: 'rooSync.sources' } } : {});
}

export interface StatusBarView {
  text: string;
  tooltip: string;
  warning: boolean;
}

/** Pure: the text, tooltip and colour for a state. */
export function renderStatusBar(state: StatusBarState): StatusBarView {
  switch (state.kind) {
    case 'off':
      return { text: '$(circle-slash) roo-sync: off', tooltip: 'roo-sync: sync is off (roo-sync: Enable Sync)', warning: false };
    case 'signed-out':
      return { text: '$(account) roo-sync: signed out', tooltip: 'roo-sync: signed out (roo-sync: Sign In)', warning: true };
    case 'starting':
      return { text: '$(sync~spin) roo-sync', tooltip: 'roo-sync: starting', warning: false };
    case 'error':
      return { text: '$(error) roo-sync: error', tooltip: `roo-sync: ${state.code}: ${state.message}`, warning: true };
    case 'device': {
      const s = state.status;
      const tooltip = `roo-sync: ${describeDevice(s, state.sources)}${s.account ? ` as ${s.account.email}` : ''}${s.lastError ? `\nlast error: ${s.lastError.code}` : ''}`;
      if (s.state === 'signed-out') return { text: '$(account) roo-sync: signed out', tooltip, warning: true };
      if (s.conflicts > 0 && (s.state === 'synced' || s.state === 'syncing')) {
        return { text: `$(warning) roo-sync: ${s.conflicts} conflict${s.conflicts === 1 ? '' : 's'}`, tooltip, warning: true };
      }
      switch (s.state) {
        case 'synced':
          return { text: s.stores.length === 0 ? '$(check) roo-sync: synced, no task store' : '$(check) roo-sync: synced', tooltip, warning: false };
        case 'syncing':
          return { text: s.queued > 0 ? `$(sync~spin) roo-sync: pending ${s.queued}` : '$(sync~spin) roo-sync: syncing', tooltip, warning: false };
        case 'connecting':
          return { text: '$(sync~spin) roo-sync: connecting', tooltip, warning: false };
        case 'offline':
          return { text: `$(cloud-offline) roo-sync: offline, ${s.queued} queued`, tooltip, warning: true };
        case 'following':
          return { text: '$(eye) roo-sync: following', tooltip, warning: false };
        case 'closed':
          return { text: '$(circle-slash) roo-sync: stopped', tooltip, warning: false };
      }
    }
  }
}

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('roo-sync.status', vscode.StatusBarAlignment.Left, 50);
  private current: StatusBarView | undefined;

  constructor() {
    this.item.name = 'roo-sync';
    this.item.command = 'roo-sync.showStatus';
    this.item.show();
  }

  /** What the item shows now (read by the status command and the tests). */
  get view(): StatusBarView | undefined {
    return this.current;
  }

  show(state: StatusBarState): void {
    const view = renderStatusBar(state);
    this.current = view;
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    this.item.backgroundColor = view.warning ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
  }

  dispose(): void {
    this.item.dispose();
  }
}
