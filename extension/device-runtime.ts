/**
 * The running device of this window: core's SyncDevice over the task stores found here (and
 * the workspace folders when workspace sync is on), run in a worker thread (device-worker/) so
 * that its parsing, hashing and compression never stall the extension host; its credentials in
 * SecretStorage, its data folder in the extension's globalStorage. It feeds the status bar and
 * the view (devices with presence, unresolved conflicts), carries out remote commands on the
 * local assistant and sends them to other devices. The only module that touches the device.
 */
import { join } from 'node:path';
import * as vscode from 'vscode';
import { canRunTasks, NO_TASK_RUNNER_MESSAGE } from '../core/device/device-kinds';
import type { DeviceStatus } from '../core/device/device-status';
import { SyncError, isSyncError } from '../core/errors';
import { oneLine } from '../core/one-line';
import type { CommandDeliverMessage, CommandResultMessage, PresenceMessage, RemoteCommand } from '../core/protocol/messages';
import type { CredentialsStore } from '../core/ports/credentials-store';
import { WorkerDevice } from './device-worker/worker-device';
import type { SyncNowSummary } from './device-worker/protocol';
import type { MigrationResult } from '../core/node/migrate/run-migration';
import { runRemoteCommand } from './assistant-bridge';
import { openConflictDiff, resolveConflict, unresolvedConflicts, type ConflictChoice, type OpenConflict } from './file-conflicts';
import { notify } from './notices';
import type { OutputLog } from './output-log';
import type { RooSyncSettings } from './settings';
import type { ViewDevice } from './sync-view';
import type { StoreCandidate } from '../core/stores/store-selection';
import type { TaskSource } from '../core/model/changes';
import { findTaskStores } from './task-stores';
import { workspacesToSync, type WorkspaceToSync } from './workspace-sync';

/** What the view's device actions ask the assistant on another device to do (its API's method names). */
export type RemoteAction = 'sendMessage' | 'pressPrimaryButton' | 'pressSecondaryButton' | 'cancelCurrentTask';

const ACTION_KINDS: Record<RemoteAction, RemoteCommand['kind']> = {
  sendMessage: 'task.message',
  pressPrimaryButton: 'task.approve',
  pressSecondaryButton: 'task.deny',
  cancelCurrentTask: 'task.cancel',
};

export interface DeviceRuntimeOptions {
  globalStorageUri: vscode.Uri;
  /** dist/device-worker.js of this extension. */
  workerPath: string;
  credentials: CredentialsStore;
  settings: RooSyncSettings;
  log: OutputLog;
  onStatus(status: DeviceStatus): void;
  onDevicesChanged(): void;
}

/** The outcome of a command sent to another device, as its sender sees it. */
export interface SentCommandOutcome {
  commandId: string;
  status: CommandResultMessage['status'] | 'queued';
  result?: unknown;
  error?: { code: string; message: string };
}

/** How long presence of devices the list lacks is gathered before the list is reloaded once. */
const UNKNOWN_PRESENCE_RELOAD_MS = 250;

/** Longest title shown in the view's presence before it is cut with an ellipsis. */
const TITLE_CHARS = 60;

/** How the view names a running task: its title when known here (one line, cut), else `task <id>`. */
export function runningTaskLabel(taskId: string, title: string | null | undefined): string {
  if (!title) return `task ${taskId}`;
  return `"${oneLine(title, TITLE_CHARS)}"`;
}

const EMPTY_STATUS: DeviceStatus = { state: 'connecting', queued: 0, conflicts: 0, cursor: 0, lastSyncAt: null, stores: [], unrestorable: [], waiting: [], lastError: null, account: null };

export class DeviceRuntime {
  private relayDevices: { id: string; name: string; kind: string | null; current: boolean }[] = [];
  private readonly presence = new Map<string, PresenceMessage>();
  private conflicts: OpenConflict[] = [];
  private readonly removers: Array<() => void> = [];
  private readonly running = new Set<string>();
  private closing: Promise<void> | undefined;
  /** The pending reload of the device list for presence of a device it lacks. */
  private reloadTimer: NodeJS.Timeout | undefined;
  /** Titles of the tasks other devices run, by task id (null: not in this device's stores when last looked). */
  private readonly titles = new Map<string, string | null>();
  /** The cursor when tasks not found were last looked up again. */
  private titleCursor = -1;
  /** Task ids whose title is being looked up. */
  private readonly lookingUp = new Set<string>();

  private constructor(
    readonly device: WorkerDevice,
    /** The task stores it was opened with (a change of these restarts it). */
    readonly stores: readonly StoreCandidate[],
    private readonly workspaces: WorkspaceToSync[],
    private readonly options: DeviceRuntimeOptions,
  ) {}

  static async start(options: DeviceRuntimeOptions): Promise<DeviceRuntime> {
    const { log, settings } = options;
    const found = await findTaskStores(options.globalStorageUri, settings.sources);
    for (const problem of found.problems) log.warn(`${problem.code}: ${problem.path}: ${problem.reason}`);
    for (const store of found.stores) log.info(`task store ${store.source} at ${store.basePath} (${store.foundBy})`);
    if (found.stores.length === 0) log.info('no assistant task store found yet');
    const workspaces = workspacesToSync(settings);
    for (const w of workspaces) log.info(`workspace ${w.workspaceId} at ${w.root}`);
    const device = await WorkerDevice.open(
      options.workerPath,
      {
        dataDir: join(options.globalStorageUri.fsPath, 'device'),
        stores: found.stores.map((s) => ({ source: s.source, basePath: s.basePath })),
        workspaces,
        holderName: `VS Code window (${vscode.env.appName})`,
        lockDir: options.globalStorageUri.fsPath,
        ...(settings.compressionThreshold === null ? {} : { compressThreshold: settings.compressionThreshold }),
      },
      options.credentials,
      log,
    );
    const runtime = new DeviceRuntime(device, found.stores, workspaces, options);
    runtime.removers.push(
      device.onStatus((status) => runtime.onStatus(status)),
      device.onCommand((delivery) => void runtime.onCommand(delivery)),
      device.onPresence((presence) => runtime.onPresence(presence)),
      device.onConnected(() => {
        void device.updatePresence('online');
        void runtime.refreshDevices();
      }),
    );
    if (device.isOnline) void device.updatePresence('online');
    runtime.onStatus(device.status ?? EMPTY_STATUS);
    void runtime.refreshDevices();
    return runtime;
  }

  /** The `rooSync.sources` it was started with (empty: every store found; a change restarts it). */
  get sources(): readonly TaskSource[] {
    return this.options.settings.sources;
  }

  /** Ids of the workspace folders this device syncs. */
  get workspaceIds(): string[] {
    return this.workspaces.map((w) => w.workspaceId);
  }

  /**
   * Presence of another device. One the list lacks (signed in since the list was loaded) makes
   * the list reload, once for a burst of such presence, so it shows up without a Refresh.
   */
  private onPresence(presence: PresenceMessage): void {
    this.presence.set(presence.deviceId, presence);
    if (presence.activeTaskId) this.lookUpTitle(presence.activeTaskId);
    this.options.onDevicesChanged();
    if (this.closing || this.reloadTimer || this.relayDevices.some((d) => d.id === presence.deviceId)) return;
    this.reloadTimer = setTimeout(() => {
      this.reloadTimer = undefined;
      if (!this.closing) void this.refreshDevices();
    }, UNKNOWN_PRESENCE_RELOAD_MS);
    this.reloadTimer.unref();
  }

  /**
   * Finds the title of a running task in this device's stores (once per task), and shows it in
   * the view when found; a task that is not here yet stays shown by its id.
   */
  private lookUpTitle(taskId: string, again = false): void {
    // Looked up once; a task not found (null) only again when a pull may have brought it (`again`).
    if (this.lookingUp.has(taskId) || (this.titles.has(taskId) && !(again && this.titles.get(taskId) === null))) return;
    this.lookingUp.add(taskId);
    this.device.taskTitle(taskId).then(
      (title) => {
        this.lookingUp.delete(taskId);
        this.titles.set(taskId, title);
        if (title && !this.closing) this.options.onDevicesChanged();
      },
      (error: unknown) => {
        this.lookingUp.delete(taskId);
        this.titles.set(taskId, null);
        this.options.log.debug(`no title for task ${taskId}: ${(error as Error)?.message ?? String(error)}`);
      },
    );
  }

  /** The device's status, with conflicts counted as the unresolved ones. */
  get status(): DeviceStatus {
    return { ...(this.device.status ?? EMPTY_STATUS), conflicts: this.conflicts.length };
  }

  private onStatus(status: DeviceStatus): void {
    this.conflicts = unresolvedConflicts(this.device.fileConflicts, this.workspaces);
    // A running task not here yet may have arrived with a pull: look again when the cursor moved.
    if (status.cursor !== this.titleCursor) {
      this.titleCursor = status.cursor;
      for (const p of this.presence.values()) if (p.state === 'busy' && p.activeTaskId) this.lookUpTitle(p.activeTaskId, true);
    }
    this.options.onStatus({ ...status, conflicts: this.conflicts.length });
  }

  /** A command from another device: run it on the local assistant and report back. */
  private async onCommand(delivery: CommandDeliverMessage): Promise<void> {
    const client = this.device;
    if (this.running.has(delivery.commandId)) return; // a redelivery of one under way
    this.running.add(delivery.commandId);
    const log = this.options.log;
    log.info(`remote command ${delivery.command.kind} from device ${delivery.fromDeviceId} (${delivery.commandId})`);
    try {
      await client.sendCommandResponse(delivery.commandId, 'delivered');
      const result = await runRemoteCommand(delivery.command);
      if (delivery.command.kind === 'task.start' && result.taskId) await client.updatePresence('busy', result.taskId);
      if (delivery.command.kind === 'task.cancel') await client.updatePresence('online');
      await client.sendCommandResponse(delivery.commandId, 'done', result);
    } catch (error) {
      const e = isSyncError(error) ? { code: error.code, message: error.message } : { code: 'ASSISTANT_API_FAILED', message: String((error as Error)?.message ?? error) };
      log.warn(`remote command ${delivery.commandId} failed: ${e.code}: ${e.message}`);
      await client.sendCommandResponse(delivery.commandId, 'failed', undefined, e).catch(() => undefined);
    } finally {
      this.running.delete(delivery.commandId);
    }
  }

  /** Reloads the account's device list from the relay. */
  async refreshDevices(): Promise<void> {
    try {
      const devices = await this.device.listDevices();
      this.relayDevices = devices.filter((d) => !d.revokedAt).map((d) => ({ id: d.id, name: d.name, kind: d.kind, current: d.current }));
      this.options.onDevicesChanged();
    } catch (error) {
      this.options.log.warn('could not list the devices', error);
    }
  }

  devices(): ViewDevice[] {
    return this.relayDevices.map((d) => {
      const p = this.presence.get(d.id);
      let presence: string = d.current ? (this.device.isOnline ? 'online' : 'offline') : (p?.state ?? 'offline');
      if (p?.state === 'busy') presence = p.activeTaskId ? `running ${runningTaskLabel(p.activeTaskId, this.titles.get(p.activeTaskId))}` : 'busy';
      return { id: d.id, name: d.name, current: d.current, presence, kind: d.kind, canRunTasks: canRunTasks(d) };
    });
  }

  viewConflicts(): OpenConflict[] {
    return this.conflicts;
  }

  /**
   * Migrate Local Tasks: uploads every task of the stores this window syncs (core's migration,
   * the same as the CLI's `migrate`), in the worker, with progress and cancel. A rerun resumes.
   */
  async migrateLocalTasks(progress: vscode.Progress<{ message?: string; increment?: number }>, token: vscode.CancellationToken): Promise<MigrationResult> {
    let reported = 0;
    const remove = this.device.onMigrationProgress((event) => {
      const pct = event.tasksTotal > 0 ? (event.tasksDone / event.tasksTotal) * 100 : 100;
      progress.report({ message: `${event.tasksDone}/${event.tasksTotal} tasks, ${(event.bytesDone / 1048576).toFixed(1)} MB`, increment: pct - reported });
      reported = pct;
    });
    const cancel = token.onCancellationRequested(() => void this.device.cancelMigration());
    try {
      const result = await this.device.migrate();
      this.options.log.info(`migration ${result.aborted ? 'stopped' : 'done'}: ${result.tasks} tasks, ${result.queued} changes queued, ${result.accepted} accepted${result.unreadable.length ? `, ${result.unreadable.length} unreadable` : ''}`);
      return result;
    } finally {
      remove();
      cancel.dispose();
    }
  }

  /** One push + pull round now; what it sent and received. */
  syncNow(): Promise<SyncNowSummary> {
    return this.device.syncNow();
  }

  /**
   * Sends `command` to `targetDeviceId` through the relay's queue and waits (up to `waitMs`)
   * for its outcome; a target that is offline leaves it `queued`.
   */
  async sendCommand(targetDeviceId: string, command: RemoteCommand, waitMs = 30_000): Promise<SentCommandOutcome> {
    const client = this.device;
    const results: CommandResultMessage[] = [];
    let wake: (() => void) | undefined;
    const remove = client.onCommandResult((result) => {
      results.push(result);
      wake?.();
    });
    try {
      const queued = await client.sendCommand(targetDeviceId, command);
      this.options.log.info(`sent ${command.kind} to device ${targetDeviceId} (${queued.commandId})`);
      const deadline = Date.now() + waitMs;
      for (;;) {
        const final = results.find((r) => r.commandId === queued.commandId && r.status !== 'delivered' && r.status !== 'progress');
        if (final) return { commandId: queued.commandId, status: final.status, ...(final.result === undefined ? {} : { result: final.result }), ...(final.error ? { error: final.error } : {}) };
        const left = deadline - Date.now();
        if (left <= 0) {
          // No final answer yet: the target has it (delivered, working on it), or it waits in the queue.
          const reached = results.some((r) => r.commandId === queued.commandId && (r.status === 'delivered' || r.status === 'progress'));
          return { commandId: queued.commandId, status: reached ? 'delivered' : 'queued' };
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    } finally {
      remove();
    }
  }

  /** The other devices that can take a remote command (they run the assistant: not the CLI, not a browser). */
  taskRunners(): ViewDevice[] {
    return this.devices().filter((d) => !d.current && d.canRunTasks);
  }

  /**
   * Throws REMOTE_TARGET_CANNOT_RUN when the device list says `deviceId` cannot run tasks (a
   * device it does not list yet is left to the relay to answer). Returns its name when listed.
   */
  private async checkTaskRunner(deviceId: string): Promise<string | undefined> {
    if (!this.relayDevices.some((d) => d.id === deviceId)) await this.refreshDevices();
    const device = this.devices().find((d) => d.id === deviceId);
    if (device && !device.current && !device.canRunTasks) {
      const what = device.kind === 'cli' ? 'is a roo-sync CLI device: it syncs tasks but cannot run them' : 'cannot run tasks';
      throw new SyncError('REMOTE_TARGET_CANNOT_RUN', `${device.name} ${what}. ${NO_TASK_RUNNER_MESSAGE}`, { deviceId });
    }
    return device?.name;
  }

  /**
   * Send Task to Device: asks for the device (one that can run the assistant) and the task unless
   * given, then shows how it went: started, the coded failure, or no answer yet.
   */
  async sendTaskToDevice(args: { deviceId?: string; text?: string; waitMs?: number }): Promise<SentCommandOutcome | { cancelled: true }> {
    let deviceId = args.deviceId;
    let name: string | undefined;
    if (!deviceId) {
      await this.refreshDevices();
      const runners = this.taskRunners();
      if (runners.length === 0) throw new SyncError('REMOTE_NO_TASK_RUNNER', `no other device of this account can run tasks. ${NO_TASK_RUNNER_MESSAGE}`);
      const pick = await vscode.window.showQuickPick(runners.map((d) => ({ label: d.name, description: d.presence, id: d.id })), { title: 'roo-sync: Send Task to Device' });
      if (!pick) return { cancelled: true };
      deviceId = pick.id;
      name = pick.label;
    } else {
      name = await this.checkTaskRunner(deviceId);
    }
    const target = name ?? `device ${deviceId}`;
    const text = args.text ?? (await vscode.window.showInputBox({ title: 'roo-sync: Send Task to Device', prompt: `The task for the assistant on ${target}`, ignoreFocusOut: true }));
    if (!text) return { cancelled: true };
    const waitMs = args.waitMs ?? 30_000;
    const outcome = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `roo-sync: sending the task to ${target}…` }, () => this.sendCommand(deviceId, { kind: 'task.start', text }, waitMs));
    if (outcome.status === 'failed' || outcome.status === 'expired') {
      const error = outcome.error ?? { code: 'COMMAND_EXPIRED', message: `${target} did not run the task before it expired` };
      throw new SyncError(error.code, error.message, { commandId: outcome.commandId });
    }
    if (outcome.status === 'done') {
      const taskId = (outcome.result as { taskId?: unknown } | undefined)?.taskId;
      void notify('info', `roo-sync: task started on ${target}${typeof taskId === 'string' ? ` (${taskId})` : ''}.`);
    } else if (outcome.status === 'delivered' || outcome.status === 'progress') {
      void notify('info', `roo-sync: ${target} has the task and is working on it; no result within ${Math.round(waitMs / 1000)} s.`);
    } else {
      void notify('warning', `roo-sync: no answer from ${target} within ${Math.round(waitMs / 1000)} s; the task stays queued and starts when ${target} is online.`);
    }
    return outcome;
  }

  /** A view action on another device's running task. */
  async controlRemote(deviceId: string, action: RemoteAction, text?: string): Promise<SentCommandOutcome | { cancelled: true }> {
    await this.checkTaskRunner(deviceId);
    const taskId = this.presence.get(deviceId)?.activeTaskId;
    if (!taskId) throw new SyncError('REMOTE_NO_ACTIVE_TASK', 'that device is not running a task');
    let message = text;
    if (action === 'sendMessage' && message === undefined) {
      message = await vscode.window.showInputBox({ title: 'roo-sync: Send Message', prompt: 'Message to the running task', ignoreFocusOut: true });
      if (!message) return { cancelled: true };
    }
    const outcome = await this.sendCommand(deviceId, { kind: ACTION_KINDS[action], taskId, ...(message ? { text: message } : {}) });
    if (outcome.status === 'failed' && outcome.error) throw new SyncError(outcome.error.code, outcome.error.message, { commandId: outcome.commandId });
    return outcome;
  }

  private findConflict(id: string | undefined): OpenConflict {
    const conflict = id ? this.conflicts.find((c) => c.id === id) : this.conflictInActiveEditor();
    if (!conflict) throw new SyncError('CONFLICT_NOT_FOUND', id ? `no unresolved conflict ${id}` : 'open a conflict from the roo-sync view first');
    return conflict;
  }

  private conflictInActiveEditor(): OpenConflict | undefined {
    const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
    if (!(input instanceof vscode.TabInputTextDiff)) return undefined;
    return this.conflicts.find((c) => c.remoteUri.fsPath === input.modified.fsPath);
  }

  async openConflict(id: string | undefined): Promise<void> {
    const conflict = this.findConflict(id);
    await openConflictDiff(conflict);
    await vscode.commands.executeCommand('setContext', 'rooSync.conflictDiffOpen', true);
  }

  async resolveConflict(id: string | undefined, choice: ConflictChoice): Promise<{ kept: string[] }> {
    const conflict = this.findConflict(id);
    const result = await resolveConflict(conflict, choice);
    this.options.log.info(`conflict on ${conflict.path} resolved: ${choice}`);
    await vscode.commands.executeCommand('setContext', 'rooSync.conflictDiffOpen', false);
    this.onStatus(this.status);
    return result;
  }

  /** Stops the device (flushes what is queued while online). Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const remove of this.removers.splice(0)) remove();
      clearTimeout(this.reloadTimer);
      this.reloadTimer = undefined;
      await this.device.close();
    })();
    return this.closing;
  }
}
