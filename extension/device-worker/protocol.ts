/**
 * Messages between the extension host's main thread and the device worker (worker.ts), which
 * runs core's SyncDevice off the host's event loop: parsing and hashing multi-MB task files,
 * compression and first syncs never stall the assistant that shares the host.
 */
import type { RelayDevice } from '../../core/client/relay-auth-client';
import type { DeviceStatus } from '../../core/device/device-status';
import type { DeviceCredentials } from '../../core/ports/credentials-store';
import type { QueuedCommand, RooCloudClient } from '../../core/node/client/roo-cloud-client';
import type { CommandDeliverMessage, CommandResultMessage, CommandResultStatus, PresenceMessage, PresenceState, RemoteCommand } from '../../core/protocol/messages';
import type { SyncDeviceStore } from '../../core/node/device/sync-device';
import type { FileConflictRecord } from '../../core/storage/sync-state';
import type { MigrationProgressEvent, MigrationResult } from '../../core/node/migrate/run-migration';
import type { WorkspaceToSync } from '../workspace-sync';

/** What the worker opens the device with (plain data: it crosses threads). */
export interface WorkerDeviceOptions {
  dataDir: string;
  stores: SyncDeviceStore[];
  workspaces: WorkspaceToSync[];
  holderName: string;
  /** Folder of the cross-window credentials lock (the extension's globalStorage). */
  lockDir: string;
  watch?: { debounceMs?: number; maxWaitMs?: number };
  /** `rooSync.compressionThreshold` (absent: core's default). */
  compressThreshold?: number;
}

export interface WireError {
  code: string;
  message: string;
  details?: Record<string, unknown>;
}

/** What one Sync Now round did, in the counts the user is told. */
export interface SyncNowSummary {
  /** Changes of this device the relay acknowledged. */
  sent: number;
  /** Changes of other devices pulled and applied. */
  received: number;
  /** Tasks whose files could not be read (left alone). */
  unreadable: number;
}

/** The worker's methods the main thread calls. */
export interface WorkerMethods {
  syncNow(): SyncNowSummary;
  /** The title (the HistoryItem's `task`) of a task in this device's stores, or null when it is not here. */
  taskTitle(taskId: string): string | null;
  idle(): void;
  close(): void;
  listDevices(): RelayDevice[];
  sendCommand(target: string, command: RemoteCommand): QueuedCommand;
  sendCommandResponse(commandId: string, status: Exclude<CommandResultStatus, 'expired'>, result?: unknown, error?: { code: string; message: string }): void;
  updatePresence(state: PresenceState, activeTaskId?: string): void;
  /** Uploads the owned stores' existing tasks (core's migration, the CLI's `migrate`), reporting progress. */
  migrate(since?: number): MigrationResult;
  /** Stops a running migration after the tasks in flight (what is uploaded stays). */
  cancelMigration(): void;
  /** The relay link's framing (codec, compression threshold, bytes sent); null while not connected. */
  wire(): WireInfo | null;
}

export type WireInfo = NonNullable<RooCloudClient['wire']>;

export type MainToWorker =
  | { t: 'open'; options: WorkerDeviceOptions }
  | { t: 'call'; id: number; method: keyof WorkerMethods; args: unknown[] }
  | { t: 'credentials-reply'; id: number; value?: DeviceCredentials | null; error?: WireError };

export type WorkerToMain =
  | { t: 'opened' }
  | { t: 'open-failed'; error: WireError }
  | { t: 'status'; status: DeviceStatus; conflicts: FileConflictRecord[]; online: boolean }
  | { t: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; message: string }
  | { t: 'reply'; id: number; value?: unknown; error?: WireError }
  | { t: 'credentials'; id: number; op: 'load' | 'save' | 'clear'; value?: DeviceCredentials }
  | { t: 'command'; delivery: CommandDeliverMessage }
  | { t: 'presence'; presence: PresenceMessage }
  | { t: 'command-result'; result: CommandResultMessage }
  | { t: 'connected' }
  | { t: 'migration-progress'; event: MigrationProgressEvent };

export function toWireError(error: unknown): WireError {
  const e = error as { code?: unknown; message?: unknown; details?: unknown };
  return {
    code: typeof e?.code === 'string' ? e.code : 'DEVICE_WORKER_FAILED',
    message: typeof e?.message === 'string' ? e.message : String(error),
    ...(e?.details && typeof e.details === 'object' ? { details: e.details as Record<string, unknown> } : {}),
  };
}
