/**
 * Remote commands on a relay process (DESIGN.md "Server"): queue in the database, delivery to
 * the target's newest socket (on whichever process holds it, routed through the SyncHub),
 * redelivery with exponential backoff until the target answers, expiry with a result the sender
 * sees, and results and progress flowing back to the sender.
 *
 * Timers are per process and only an optimisation: the database row is the truth, every state
 * change is a conditional UPDATE, and a periodic sweep expires what no timer covered (commands
 * queued by another process, or before a restart).
 */
import type { CommandId, DeviceId } from '../../core/ids';
import type { CommandResponseMessage, CommandResultMessage, CommandSendMessage } from '../../core/protocol/messages';
import type { Database } from '../db/database';
import type { Logger } from '../observability/logger';
import type { SyncHub } from '../sync/sync-hub';
import {
  enqueueCommand,
  expireDueCommands,
  failCommandsOfRevokedTarget,
  isUnacknowledged,
  markResultsTold,
  pendingCommands,
  recordAttempt,
  respondToCommand,
  untoldResults,
  type FinishedCommand,
  type QueuedCommand,
} from './command-store';

/** Timing of the command queue. */
export interface CommandTiming {
  /** Ttl of a command that names none, ms (RelayConfig.sync.commandTtlSeconds). */
  defaultTtlMs: number;
  /** Longest ttl accepted; longer ones are cut to it. Default 24 h. */
  maxTtlMs: number;
  /** First redelivery delay of an unanswered command; doubles per attempt. Default 2 s. */
  retryInitialMs: number;
  /** Cap of the redelivery delay. Default 60 s. */
  retryMaxMs: number;
  /** How often every process looks for expired commands. Default 1 s. */
  sweepIntervalMs: number;
}

export const DEFAULT_COMMAND_TIMING: Omit<CommandTiming, 'defaultTtlMs'> = {
  maxTtlMs: 24 * 60 * 60_000,
  retryInitialMs: 2_000,
  retryMaxMs: 60_000,
  sweepIntervalMs: 1_000,
};

/** Redelivery delay after attempt `attempt` (1-based): initial * 2^(attempt-1), capped. */
export function retryDelayMs(attempt: number, timing: Pick<CommandTiming, 'retryInitialMs' | 'retryMaxMs'>): number {
  return Math.min(timing.retryMaxMs, timing.retryInitialMs * 2 ** Math.max(0, attempt - 1));
}

export class CommandService {
  private hub!: SyncHub;
  private readonly redelivery = new Map<string, NodeJS.Timeout>();
  private readonly expiry = new Map<string, NodeJS.Timeout>();
  /** Per target device: deliveries run one after another so one command is not sent twice at once. */
  private readonly deliveryChains = new Map<string, Promise<void>>();
  private readonly sweeper: NodeJS.Timeout;
  private sweeping = false;
  private sweepAgain = false;
  private closed = false;

  constructor(
    private readonly db: Database,
    private readonly timing: CommandTiming,
    private readonly logger: Logger,
  ) {
    this.sweeper = setInterval(() => void this.sweep(), timing.sweepIntervalMs);
    this.sweeper.unref();
  }

  /** Wires the hub (they reference each other). */
  attach(hub: SyncHub): void {
    this.hub = hub;
  }

  /** Queues a command (throws the COMMAND_* SyncErrors of command-store) and routes it to its target. */
  async send(userId: string, fromDeviceId: string, message: CommandSendMessage): Promise<QueuedCommand> {
    const ttlMs = Math.min(Math.max(1, Math.floor(message.command.ttlMs ?? this.timing.defaultTtlMs)), this.timing.maxTtlMs);
    const queued = await enqueueCommand(this.db, {
      userId,
      fromDeviceId,
      targetDeviceId: message.targetDeviceId,
      command: message.command,
      ttlMs,
    });
    this.scheduleExpiry(queued.commandId, queued.expiresAt);
    return queued;
  }

  /** After the `command.queued` reply went out: deliver where the target is connected. */
  route(queued: QueuedCommand): void {
    this.hub.commandPending(queued.userId, queued.targetDeviceId);
  }

  /** The target's answer; the sender is told. Throws COMMAND_UNKNOWN. */
  async respond(userId: string, deviceId: string, message: CommandResponseMessage): Promise<void> {
    const command = await respondToCommand(this.db, {
      userId,
      targetDeviceId: deviceId,
      commandId: message.commandId,
      status: message.status,
      ...(message.result === undefined ? {} : { result: message.result }),
      ...(message.error === undefined ? {} : { error: message.error }),
    });
    this.clearTimer(this.redelivery, command.commandId);
    const final = message.status === 'done' || message.status === 'failed';
    if (final) this.clearTimer(this.expiry, command.commandId);
    else this.scheduleExpiry(command.commandId, command.expiresAt);
    this.tell(command, message.status, final);
  }

  /** A device connected here: send it its pending commands, and any results it has not been told. */
  async deviceConnected(userId: string, deviceId: string): Promise<void> {
    const untold = await untoldResults(this.db, userId, deviceId);
    const connection = this.hub.newestConnection(deviceId);
    if (connection && untold.length > 0) {
      for (const command of untold) connection.send(resultMessage(command, command.status as CommandResultMessage['status']));
      await markResultsTold(this.db, untold.map((c) => c.commandId));
    }
    this.deliverPending(userId, deviceId, true);
  }

  /**
   * Delivers the device's unacknowledged commands to its newest socket here. `again`: also those
   * already sent and waiting for a retry (a reconnect redelivers at once).
   */
  deliverPending(userId: string, deviceId: string, again = false): void {
    const previous = this.deliveryChains.get(deviceId) ?? Promise.resolve();
    const next = previous
      .then(async () => {
        if (this.closed) return;
        const pending = await pendingCommands(this.db, userId, deviceId);
        for (const command of pending) {
          if (!again && this.redelivery.has(command.commandId)) continue;
          await this.deliver(command);
        }
      })
      .catch((err: unknown) => this.logger.error('command delivery failed', { err }))
      .finally(() => {
        if (this.deliveryChains.get(deviceId) === next) this.deliveryChains.delete(deviceId);
      });
    this.deliveryChains.set(deviceId, next);
  }

  /** The device was revoked: its open commands fail and their senders are told. */
  async targetRevoked(deviceId: string): Promise<void> {
    const failed = await failCommandsOfRevokedTarget(this.db, deviceId);
    for (const command of failed) {
      this.clearTimers(command.commandId);
      this.tell(command, 'failed', true);
    }
  }

  /** A final result reached its sender's socket on this process. */
  resultTold(commandId: string): void {
    markResultsTold(this.db, [commandId]).catch((err: unknown) => this.logger.warn('result not marked told', { err }));
  }

  /** Expires due commands now (also runs every sweepIntervalMs). */
  async sweep(): Promise<void> {
    if (this.closed) return;
    if (this.sweeping) {
      this.sweepAgain = true;
      return;
    }
    this.sweeping = true;
    try {
      const expired = await expireDueCommands(this.db);
      for (const command of expired) {
        this.clearTimers(command.commandId);
        this.tell(command, 'expired', true);
      }
    } catch (err) {
      if (!this.closed) this.logger.warn('command expiry sweep failed', { err });
    } finally {
      this.sweeping = false;
    }
    if (this.sweepAgain) {
      this.sweepAgain = false;
      await this.sweep();
    }
  }

  /** Stops every timer. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    for (const timer of [...this.redelivery.values(), ...this.expiry.values()]) clearTimeout(timer);
    this.redelivery.clear();
    this.expiry.clear();
  }

  // ------------------------------------------------------------ internals

  private async deliver(command: QueuedCommand): Promise<void> {
    const connection = this.hub.newestConnection(command.targetDeviceId);
    if (!connection || this.closed) return;
    const delay = retryDelayMs(command.attempts + 1, this.timing);
    const attempt = await recordAttempt(this.db, command.commandId, delay);
    if (attempt === null) return;
    connection.send({
      type: 'command.deliver',
      commandId: command.commandId as CommandId,
      fromDeviceId: command.fromDeviceId as DeviceId,
      command: command.command,
      attempt,
    });
    this.clearTimer(this.redelivery, command.commandId);
    const timer = setTimeout(() => {
      this.redelivery.delete(command.commandId);
      void this.redeliver(command);
    }, retryDelayMs(attempt, this.timing));
    timer.unref();
    this.redelivery.set(command.commandId, timer);
  }

  private async redeliver(command: QueuedCommand): Promise<void> {
    if (this.closed) return;
    try {
      if (!(await isUnacknowledged(this.db, command.commandId))) return;
      const fresh = (await pendingCommands(this.db, command.userId, command.targetDeviceId)).find(
        (c) => c.commandId === command.commandId,
      );
      if (fresh) await this.deliver(fresh);
    } catch (err) {
      if (!this.closed) this.logger.warn('command redelivery failed', { err });
    }
  }

  private tell(command: FinishedCommand, status: CommandResultMessage['status'], final: boolean): void {
    if (!command.fromDeviceId) return;
    this.hub.commandResult(command.userId, command.fromDeviceId, resultMessage(command, status), final);
  }

  private scheduleExpiry(commandId: string, expiresAt: number): void {
    this.clearTimer(this.expiry, commandId);
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.expiry.delete(commandId);
      void this.sweep();
    }, Math.max(0, expiresAt - Date.now()) + 5);
    timer.unref();
    this.expiry.set(commandId, timer);
  }

  private clearTimers(commandId: string): void {
    this.clearTimer(this.redelivery, commandId);
    this.clearTimer(this.expiry, commandId);
  }

  private clearTimer(map: Map<string, NodeJS.Timeout>, commandId: string): void {
    const timer = map.get(commandId);
    if (timer) clearTimeout(timer);
    map.delete(commandId);
  }
}

function resultMessage(command: FinishedCommand, status: CommandResultMessage['status']): CommandResultMessage {
  const message: CommandResultMessage = {
    type: 'command.result',
    commandId: command.commandId as CommandId,
    targetDeviceId: command.targetDeviceId as DeviceId,
    status,
  };
  if (command.result !== undefined) message.result = command.result;
  if (command.error !== undefined) message.error = command.error;
  return message;
}
