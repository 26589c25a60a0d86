/**
 * What the extension tells the user, as pure functions of its state (no VS Code here, so the
 * Node-side tests check them against package.json): the context keys its `when` clauses read,
 * the buttons an error notification offers, and the words of the commands' results.
 */
import { describeStatus, type DeviceStatus } from '../core/device/device-status';
import type { TaskSource } from '../core/model/changes';
import { layoutOf } from '../core/stores/layouts';
import type { StatusBarState } from './status-bar';

/**
 * Where the extension is, as the `rooSync.state` context key: `off` (rooSync.enabled is false),
 * `signedOut` (on, but no credentials or the relay refused them), `starting`, `syncing` (a device
 * runs: synced, syncing, offline...), `following` (another window or `roo-sync sync` syncs the
 * stores: this one cannot sync, migrate or send), `error` (it could not start, or the stored
 * sign-in cannot be read).
 */
export type UiState = 'off' | 'signedOut' | 'starting' | 'syncing' | 'following' | 'error';

/** The context keys package.json's `when` clauses (command palette, views welcome) read. */
export interface UiContext {
  'rooSync.state': UiState;
  /** `rooSync.enabled` is on. */
  'rooSync.enabled': boolean;
  /** Credentials are stored (Sign Out has something to do). */
  'rooSync.signedIn': boolean;
}

export const UI_CONTEXT_KEYS: readonly (keyof UiContext)[] = ['rooSync.state', 'rooSync.enabled', 'rooSync.signedIn'];

/** The `rooSync.state` context key for what the status bar shows. */
export function uiStateOf(state: StatusBarState): UiState {
  if (state.kind === 'off') return 'off';
  if (state.kind === 'signed-out') return 'signedOut';
  if (state.kind === 'device') {
    if (state.status.state === 'signed-out') return 'signedOut';
    // Another window (or `roo-sync sync`) syncs the stores: this one's device cannot sync, migrate or send.
    return state.status.state === 'following' ? 'following' : 'syncing';
  }
  return state.kind;
}

/** The codes whose fix is to sign in again (docs/errors.md). */
const SIGN_IN_AGAIN = new Set(['AUTH_SIGNED_OUT', 'AUTH_FORBIDDEN', 'AUTH_REFRESH_REUSED', 'AUTH_INVALID_CREDENTIALS', 'CREDENTIALS_UNREADABLE', 'CLIENT_TOKEN_UNAVAILABLE']);

/** The buttons of an error notification of `code`: the command that fixes it first, then Show Log. */
export function errorActions(code: string): string[] {
  if (SIGN_IN_AGAIN.has(code)) return ['Sign In', 'Show Log'];
  if (code === 'SYNC_DISABLED') return ['Enable Sync', 'Show Log'];
  return ['Show Log'];
}

/** The command a button of `errorActions` runs. */
export const ACTION_COMMANDS: Readonly<Record<string, string>> = {
  'Sign In': 'roo-sync.signIn',
  'Enable Sync': 'roo-sync.enableSync',
  'Show Log': 'roo-sync.showLog',
};

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Sync Now's result: `synced: sent 2 changes, received 1 change`. */
export function describeSyncNow(summary: { sent: number; received: number; unreadable: number }): string {
  const unreadable = summary.unreadable > 0 ? `; ${plural(summary.unreadable, 'task')} could not be read (see the log)` : '';
  return `synced: sent ${plural(summary.sent, 'change')}, received ${plural(summary.received, 'change')}${unreadable}`;
}

/** Migrate Local Tasks' result: what was uploaded, or that the relay had it all already. */
export function describeMigration(result: { tasks: number; accepted: number; aborted: boolean; upToDate: boolean; unreadable: number }): string {
  const unreadable = result.unreadable > 0 ? `, ${result.unreadable} unreadable (see the log)` : '';
  if (result.aborted) return `migration stopped after uploading ${plural(result.accepted, 'change')}; run it again to resume${unreadable}.`;
  if (result.upToDate) return `migration done: the relay already had all ${plural(result.tasks, 'task')}; nothing uploaded${unreadable}.`;
  return `migration done: ${plural(result.tasks, 'task')} checked, ${plural(result.accepted, 'change')} uploaded${unreadable}.`;
}

/** The offline Sign Out warning: the device stays on the account; where to sign it out. */
export function offlineSignOutWarning(code: string, deviceName: string | undefined): string {
  const name = deviceName ?? 'this device';
  return (
    `signed out here, but the relay could not be told (${code}), so "${name}" stays on your account. ` +
    `Sign it out from the web page's Devices view (Sign out) or with \`roo-sync devices sign-out "${name}"\`.`
  );
}

function clock(ms: number): string {
  const d = new Date(ms);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

/** Show Sync Status for a running device: account, relay, stores, queued, last sync. */
export function statusDetails(status: DeviceStatus, sources: readonly TaskSource[], now: number): { text: string; details: string[] } {
  const text = describeStatus(status, sources.length > 0 ? { sourceFilter: { sources, by: 'rooSync.sources' } } : {});
  const stores = status.stores.map((s) => `${layoutOf(s.source).displayName}${s.role === 'following' ? ` (followed: ${s.holder?.name ?? 'another process'} syncs it)` : ''}`);
  const details = [
    status.account ? `signed in as ${status.account.email}` : 'account not known yet',
    `relay ${status.account?.serverUrl ?? 'not known yet'}`,
    stores.length > 0 ? `stores: ${stores.join(', ')}` : 'no task store',
    `${status.queued} queued`,
    status.lastSyncAt === null ? 'not synced yet' : `last sync ${clock(status.lastSyncAt)} (${ago(now - status.lastSyncAt)})`,
    ...(status.lastError ? [`last error ${status.lastError.code}`] : []),
  ];
  return { text, details };
}
