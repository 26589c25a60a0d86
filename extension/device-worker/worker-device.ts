/**
 * The extension host's handle on the device process: starts dist/device-worker.js (see
 * device-process.ts), answers its credential requests from SecretStorage, and offers the
 * device's status, events and calls as promises and listeners. `close()` closes the device in
 * that process, then ends it.
 */
import type { RelayDevice } from '../../core/client/relay-auth-client';
import { Listeners } from '../../core/client/listeners';
import type { DeviceStatus } from '../../core/device/device-status';
import { SyncError } from '../../core/errors';
import type { QueuedCommand } from '../../core/node/client/roo-cloud-client';
import type { CredentialsStore } from '../../core/ports/credentials-store';
import type { CommandDeliverMessage, CommandResultMessage, CommandResultStatus, PresenceMessage, PresenceState, RemoteCommand } from '../../core/protocol/messages';
import type { FileConflictRecord } from '../../core/storage/sync-state';
import type { MigrationProgressEvent, MigrationResult } from '../../core/node/migrate/run-migration';
import { DeviceProcess } from './device-process';
import { toWireError, type MainToWorker, type SyncNowSummary, type WireError, type WireInfo, type WorkerDeviceOptions, type WorkerMethods, type WorkerToMain } from './protocol';

export interface WorkerDeviceLog {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

const fromWire = (error: WireError) => new SyncError(error.code, error.message, error.details ?? {});

export class WorkerDevice {
  private current: { status: DeviceStatus; conflicts: FileConflictRecord[]; online: boolean } | null = null;
  private nextId = 1;
  private readonly replies = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  private readonly statusListeners = new Listeners<[DeviceStatus]>();
  private readonly commandListeners = new Listeners<[CommandDeliverMessage]>();
  private readonly presenceListeners = new Listeners<[PresenceMessage]>();
  private readonly resultListeners = new Listeners<[CommandResultMessage]>();
  private readonly connectedListeners = new Listeners<[]>();
  private readonly migrationListeners = new Listeners<[MigrationProgressEvent]>();
  private closing: Promise<void> | undefined;
  private exited = false;

  private worker!: DeviceProcess<MainToWorker, WorkerToMain>;

  private constructor(
    private readonly credentials: CredentialsStore,
    private readonly log: WorkerDeviceLog,
  ) {}

  /** Starts the device process and opens the device in it; rejects with the device's coded error. */
  static async open(workerPath: string, options: WorkerDeviceOptions, credentials: CredentialsStore, log: WorkerDeviceLog): Promise<WorkerDevice> {
    const device = new WorkerDevice(credentials, log);
    const opened = new Promise<void>((resolve, reject) => {
      device.worker = new DeviceProcess<MainToWorker, WorkerToMain>(workerPath, {
        message: (message) => {
          if (message.t === 'opened') resolve();
          else if (message.t === 'open-failed') reject(fromWire(message.error));
          else device.onMessage(message);
        },
        stderr: (line) => log.warn(`device process: ${line}`),
        exit: (code, signal) => {
          device.exited = true;
          const how = signal ?? `exit ${code}`;
          for (const pending of device.replies.values()) pending.reject(new SyncError('DEVICE_WORKER_FAILED', `the device process ended (${how})`));
          device.replies.clear();
          reject(new SyncError('DEVICE_WORKER_FAILED', `the device process ended (${how}) before the device opened`));
        },
      });
    });
    device.send({ t: 'open', options });
    try {
      await opened;
    } catch (error) {
      await device.worker.end();
      throw error;
    }
    return device;
  }

  private send(message: MainToWorker): void {
    this.worker.send(message);
  }

  private onMessage(message: WorkerToMain): void {
    switch (message.t) {
      case 'status':
        this.current = { status: message.status, conflicts: message.conflicts, online: message.online };
        this.statusListeners.emit(message.status);
        break;
      case 'log':
        this.log[message.level](message.message);
        break;
      case 'reply': {
        const pending = this.replies.get(message.id);
        this.replies.delete(message.id);
        if (message.error) pending?.reject(fromWire(message.error));
        else pending?.resolve(message.value);
        break;
      }
      case 'credentials':
        void this.answerCredentials(message.id, message.op, message.value);
        break;
      case 'command':
        this.commandListeners.emit(message.delivery);
        break;
      case 'presence':
        this.presenceListeners.emit(message.presence);
        break;
      case 'command-result':
        this.resultListeners.emit(message.result);
        break;
      case 'connected':
        this.connectedListeners.emit();
        break;
      case 'migration-progress':
        this.migrationListeners.emit(message.event);
        break;
    }
  }

  private async answerCredentials(id: number, op: 'load' | 'save' | 'clear', value: Parameters<CredentialsStore['save']>[0] | undefined): Promise<void> {
    try {
      const result = op === 'load' ? await this.credentials.load() : op === 'save' ? await this.credentials.save(value!) : await this.credentials.clear();
      this.send({ t: 'credentials-reply', id, value: result ?? null });
    } catch (error) {
      this.send({ t: 'credentials-reply', id, error: toWireError(error) });
    }
  }

  private call<K extends keyof WorkerMethods>(method: K, ...args: Parameters<WorkerMethods[K]>): Promise<ReturnType<WorkerMethods[K]>> {
    const ended = () => new SyncError('DEVICE_WORKER_FAILED', 'the device process has ended');
    if (this.exited) return Promise.reject(ended());
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.replies.set(id, { resolve: resolve as (v: unknown) => void, reject });
      if (!this.worker.send({ t: 'call', id, method, args })) {
        this.replies.delete(id);
        reject(ended());
      }
    });
  }

  get status(): DeviceStatus | null {
    return this.current?.status ?? null;
  }

  get fileConflicts(): readonly FileConflictRecord[] {
    return this.current?.conflicts ?? [];
  }

  get isOnline(): boolean {
    return this.current?.online ?? false;
  }

  onStatus(listener: (status: DeviceStatus) => void): () => void {
    return this.statusListeners.add(listener);
  }
  onCommand(listener: (delivery: CommandDeliverMessage) => void): () => void {
    return this.commandListeners.add(listener);
  }
  onPresence(listener: (presence: PresenceMessage) => void): () => void {
    return this.presenceListeners.add(listener);
  }
  onCommandResult(listener: (result: CommandResultMessage) => void): () => void {
    return this.resultListeners.add(listener);
  }
  onConnected(listener: () => void): () => void {
    return this.connectedListeners.add(listener);
  }

  onMigrationProgress(listener: (event: MigrationProgressEvent) => void): () => void {
    return this.migrationListeners.add(listener);
  }
  migrate(since?: number): Promise<MigrationResult> {
    return this.call('migrate', since);
  }
  cancelMigration(): Promise<void> {
    return this.call('cancelMigration');
  }
  /** The relay link's framing: codec, compression threshold, bytes sent (null while not connected). */
  wire(): Promise<WireInfo | null> {
    return this.call('wire');
  }

  /** One push + pull round; what it sent and received. */
  syncNow(): Promise<SyncNowSummary> {
    return this.call('syncNow');
  }
  /** The title of a task in this device's stores, or null when it is not here. */
  taskTitle(taskId: string): Promise<string | null> {
    return this.call('taskTitle', taskId);
  }
  /** Resolves when the device has handed over and applied everything so far. */
  idle(): Promise<void> {
    return this.call('idle');
  }
  listDevices(): Promise<RelayDevice[]> {
    return this.call('listDevices');
  }
  sendCommand(target: string, command: RemoteCommand): Promise<QueuedCommand> {
    return this.call('sendCommand', target, command);
  }
  sendCommandResponse(commandId: string, status: Exclude<CommandResultStatus, 'expired'>, result?: unknown, error?: { code: string; message: string }): Promise<void> {
    return this.call('sendCommandResponse', commandId, status, result, error);
  }
  updatePresence(state: PresenceState, activeTaskId?: string): Promise<void> {
    return this.call('updatePresence', state, activeTaskId);
  }

  /** Closes the device (ordered, in its process), then ends the process. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      try {
        if (!this.exited) await this.call('close');
      } finally {
        await this.worker.end();
      }
    })();
    return this.closing;
  }
}
