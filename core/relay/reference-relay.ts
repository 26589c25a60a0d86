/**
 * The in-memory reference relay: the protocol's server semantics (DESIGN.md "Ordering,
 * idempotency, cursors", "Wire protocol", "Server" remote commands) with no IO, so the core can
 * be tested end to end and the real relay has a model to match (test/conformance).
 *
 * ## Connection API (transport-agnostic)
 * A transport (the ws host in core/node/relay, or a simulation handing message objects across)
 * calls `relay.connect(peer)` once per connection and gets a `RelayConnection` back:
 * - `connection.receive(message)`: every message the device sent, already decoded to a plain
 *   value. The relay validates it (`parseClientMessage`); the first must be `hello`.
 * - `connection.closed()`: the transport lost the connection (idempotent).
 * The relay answers through the peer:
 * - `peer.send(message)`: a `ServerMessage`, in protocol order. Messages are deep copies by
 *   default (`isolateMessages`), so a simulation may keep or mutate them freely.
 * - `peer.close(code, reason)`: the relay ends the connection (a `CloseCode`); after it the relay
 *   sends nothing more on that connection and the transport need not call `closed()`.
 * Everything happens synchronously inside `receive`/`closed`/timers; nothing is async.
 *
 * The welcome names the codec chosen from `ConnectOptions.codecs` (what the transport can
 * encode); a transport switches its encoder to it after sending the welcome.
 *
 * ## Semantics in short
 * - Per-user log numbered 1, 2, 3...; a push is applied in order, idempotent by
 *   (deviceId, clientSeq); stale `baseSeq` on a non-mergeable entity is a conflict. The
 *   welcome names the highest clientSeq accepted from the device (`lastClientSeq`, compacted
 *   changes included), so a device whose outbox lost its numbering can move above it.
 * - After a push commits, the new changes go live to the user's other connected devices.
 * - Remote commands queue per target device by priority, are delivered at once or when the
 *   target connects, redelivered with exponential backoff until the target responds, and expire
 *   when not finished in time (each `delivered`/`progress` response extends the deadline by the
 *   command's ttl, so a long task that reports progress stays alive).
 * - Presence: online on hello, offline when the device's last connection ends, and
 *   `presence.update`; a newcomer is told who else is connected.
 */
import type { ServerChange } from '../model/changes';
import { SyncError, isSyncError } from '../errors';
import {
  asCommandId,
  asDeviceId,
  asUserId,
  type CommandId,
  type DeviceId,
  type RequestId,
  type TaskId,
  type UserId,
} from '../ids';
import { CloseCode } from '../protocol/close-codes';
import {
  MAX_PULL_LIMIT,
  PROTOCOL_VERSIONS,
  type ClientMessage,
  type CodecName,
  type CommandResponseMessage,
  type CommandResultMessage,
  type CommandSendMessage,
  type HelloMessage,
  type PresenceState,
  type PushMessage,
  type RemoteCommand,
  type ServerMessage,
} from '../protocol/messages';
import { negotiate } from '../protocol/negotiate';
import { parseClientMessage } from '../protocol/validate';
import { ChangeLog } from './change-log';
import { realScheduler, type Scheduler, type TimerHandle } from './scheduler';

/** The transport's side of one connection, as the relay sees it. */
export interface RelayPeer {
  /** Delivers one message to the device. Must not throw (errors are swallowed). */
  send(message: ServerMessage): void;
  /** Ends the connection with a close code (see `CloseCode`) and a short reason. */
  close(code: number, reason: string): void;
}

/** The relay's side of one connection, as the transport drives it. */
export interface RelayConnection {
  /** One decoded message from the device (validated here). */
  receive(message: unknown): void;
  /** The transport lost the connection. Idempotent. */
  closed(): void;
}

export interface ConnectOptions {
  /** Codecs the transport can use for this connection; the welcome picks one. Default ['none']. */
  codecs?: readonly CodecName[];
}

export interface ReferenceRelayOptions {
  /** Clock and timers; default real time with unref()'d timers. */
  scheduler?: Scheduler;
  /** Close with HelloTimeout when `hello` has not arrived this long after connect. Default 10 s. */
  helloTimeoutMs?: number;
  /** Command ttl when the sender gives none. Default 5 minutes. */
  defaultCommandTtlMs?: number;
  /** Longest command ttl accepted (longer ones are cut to it). Default 24 hours. */
  maxCommandTtlMs?: number;
  /** First redelivery delay of an unanswered command; doubles per attempt. Default 2 s. */
  commandRetryInitialMs?: number;
  /** Cap of the redelivery delay. Default 60 s. */
  commandRetryMaxMs?: number;
  /** Deep-copy outgoing messages so peers cannot alias relay state. Default true. */
  isolateMessages?: boolean;
  /** Told about failures inside the relay (each also ends its connection with InternalError). */
  onInternalError?: (error: unknown) => void;
  /** Id generator for users, devices, tokens and commands; default random UUIDs. */
  newId?: (kind: 'user' | 'device' | 'token' | 'command') => string;
}

/** Error codes the relay sends in `error` frames (besides PROTOCOL_* codes from the validator). */
export const RelayErrorCode = {
  /** The first message was not `hello`. Closes with ProtocolError. */
  ExpectedHello: 'PROTOCOL_EXPECTED_HELLO',
  /** A second `hello` on a connection that already has one. */
  DuplicateHello: 'PROTOCOL_DUPLICATE_HELLO',
  /** Missing, unknown or revoked-and-forgotten token. Closes with Unauthorized. */
  InvalidToken: 'AUTH_TOKEN_INVALID',
  /** The token belongs to another device, or the device was revoked. Closes with Forbidden. */
  Forbidden: 'AUTH_FORBIDDEN',
  /** `hello` did not arrive in time (close reason). */
  HelloTimeout: 'PROTOCOL_HELLO_TIMEOUT',
  /** Target device unknown, revoked or another user's: one answer for all of them. */
  CommandTargetUnknown: 'COMMAND_TARGET_UNKNOWN',
  /** A device may not send a command to itself. */
  CommandTargetSelf: 'COMMAND_TARGET_SELF',
  /** The task has an unfinished command from another device. */
  CommandTaskBusy: 'COMMAND_TASK_BUSY',
  /** `command.response` for a command this device was not sent, or that already finished or expired. */
  CommandUnknown: 'COMMAND_UNKNOWN',
  /** A queued command's target device was revoked (in the `failed` result's error). */
  CommandTargetRevoked: 'COMMAND_TARGET_REVOKED',
  /** The relay failed handling a message. Closes with InternalError. */
  Internal: 'RELAY_INTERNAL',
} as const;

interface DeviceRecord {
  userId: UserId;
  deviceId: DeviceId;
  revoked: boolean;
  connections: Set<ConnectionState>;
  presence: { state: PresenceState; activeTaskId?: TaskId };
  /** command.result messages for this device while it was offline, oldest first. */
  undeliveredResults: CommandResultMessage[];
}

interface UserRecord {
  userId: UserId;
  log: ChangeLog;
  devices: Set<DeviceId>;
}

interface CommandRecord {
  commandId: CommandId;
  userId: UserId;
  fromDeviceId: DeviceId;
  targetDeviceId: DeviceId;
  command: RemoteCommand;
  priority: number;
  /** Acceptance order, for FIFO within a priority. */
  order: number;
  ttlMs: number;
  expiresAt: number;
  attempt: number;
  /** The target responded at least once: redelivery stops. */
  acknowledged: boolean;
  finished: boolean;
  redeliveryTimer?: TimerHandle;
  expiryTimer?: TimerHandle;
}

interface ConnectionState {
  readonly peer: RelayPeer;
  readonly codecs: readonly CodecName[];
  open: boolean;
  device?: DeviceRecord;
  helloTimer?: TimerHandle;
  /** Connection order: commands go to a device's newest connection. */
  readonly order: number;
}

/** Longest list of undelivered command results kept per offline device. */
const MAX_UNDELIVERED_RESULTS = 1000;

export class ReferenceRelay {
  private readonly scheduler: Scheduler;
  private readonly helloTimeoutMs: number;
  private readonly defaultCommandTtlMs: number;
  private readonly maxCommandTtlMs: number;
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;
  private readonly isolate: boolean;
  private readonly newId: (kind: 'user' | 'device' | 'token' | 'command') => string;
  private readonly onInternalError?: (error: unknown) => void;

  private readonly users = new Map<UserId, UserRecord>();
  private readonly devices = new Map<DeviceId, DeviceRecord>();
  private readonly tokens = new Map<string, DeviceId>();
  private readonly commands = new Map<CommandId, CommandRecord>();
  private readonly connections = new Set<ConnectionState>();
  private commandOrder = 0;
  private connectionOrder = 0;
  private isClosed = false;

  constructor(options: ReferenceRelayOptions = {}) {
    this.scheduler = options.scheduler ?? realScheduler;
    this.helloTimeoutMs = options.helloTimeoutMs ?? 10_000;
    this.defaultCommandTtlMs = options.defaultCommandTtlMs ?? 5 * 60_000;
    this.maxCommandTtlMs = options.maxCommandTtlMs ?? 24 * 60 * 60_000;
    this.retryInitialMs = options.commandRetryInitialMs ?? 2_000;
    this.retryMaxMs = options.commandRetryMaxMs ?? 60_000;
    this.isolate = options.isolateMessages ?? true;
    this.onInternalError = options.onInternalError;
    this.newId = options.newId ?? ((kind) => `${kind}-${globalThis.crypto.randomUUID()}`);
  }

  // ------------------------------------------------------------ administration

  /** Creates a user with an empty log. */
  addUser(): UserId {
    const userId = asUserId(this.newId('user'));
    this.users.set(userId, { userId, log: new ChangeLog(), devices: new Set() });
    return userId;
  }

  /** Registers a device for a user and issues its access token. Throws RELAY_UNKNOWN_USER. */
  addDevice(userId: UserId | string): { deviceId: DeviceId; token: string } {
    const user = this.users.get(userId as UserId);
    if (!user) throw new SyncError('RELAY_UNKNOWN_USER', 'no such user');
    const deviceId = asDeviceId(this.newId('device'));
    this.devices.set(deviceId, {
      userId: user.userId,
      deviceId,
      revoked: false,
      connections: new Set(),
      presence: { state: 'offline' },
      undeliveredResults: [],
    });
    user.devices.add(deviceId);
    return { deviceId, token: this.issueToken(deviceId) };
  }

  /** Issues another valid token for a device (token rotation). Throws RELAY_UNKNOWN_DEVICE. */
  issueToken(deviceId: DeviceId | string): string {
    const device = this.devices.get(deviceId as DeviceId);
    if (!device || device.revoked) throw new SyncError('RELAY_UNKNOWN_DEVICE', 'no such device');
    const token = this.newId('token');
    this.tokens.set(token, device.deviceId);
    return token;
  }

  /**
   * Revokes a device: its tokens stop working, its connections close with Forbidden at once,
   * and commands queued for it fail (COMMAND_TARGET_REVOKED). Idempotent.
   */
  revokeDevice(deviceId: DeviceId | string): void {
    const device = this.devices.get(deviceId as DeviceId);
    if (!device || device.revoked) return;
    device.revoked = true;
    for (const connection of [...device.connections]) {
      this.closeConnection(connection, CloseCode.Forbidden, 'device revoked');
    }
    for (const record of this.commands.values()) {
      if (record.targetDeviceId === device.deviceId && !record.finished) {
        this.finishCommand(record, {
          status: 'failed',
          error: { code: RelayErrorCode.CommandTargetRevoked, message: 'the target device was revoked' },
        });
      }
    }
  }

  /**
   * Compacts logs: removes changes with `seq < olderThanSeq` that are not the latest of their
   * entity. Devices whose cursor is below a removed seq get `welcome.resync = true`.
   * Applies to one user, or to every user when `userId` is omitted. Returns how many were removed.
   */
  compact(olderThanSeq: number, userId?: UserId | string): number {
    let removed = 0;
    for (const user of this.users.values()) {
      if (userId === undefined || user.userId === userId) removed += user.log.compact(olderThanSeq);
    }
    return removed;
  }

  /** Highest seq of a user's log (0 for none or an unknown user). For tests and tools. */
  serverCursor(userId: UserId | string): number {
    return this.users.get(userId as UserId)?.log.serverCursor ?? 0;
  }

  /** The latest change of an entity in a user's log (undefined when none). For tests and tools. */
  latestChange(userId: UserId | string, entity: string): ServerChange | undefined {
    return this.users.get(userId as UserId)?.log.latest(entity);
  }

  /** Number of open, authenticated connections of a device. */
  connectionCount(deviceId: DeviceId | string): number {
    return this.devices.get(deviceId as DeviceId)?.connections.size ?? 0;
  }

  /** Delivery state of an unfinished command (undefined once finished or unknown). For tests and tools. */
  commandState(commandId: CommandId | string): { attempt: number; acknowledged: boolean; expiresAt: number } | undefined {
    const record = this.commands.get(commandId as CommandId);
    return record && { attempt: record.attempt, acknowledged: record.acknowledged, expiresAt: record.expiresAt };
  }

  /** Closes every connection with GoingAway and cancels every timer. Idempotent. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const connection of [...this.connections]) {
      this.closeConnection(connection, CloseCode.GoingAway, 'relay shutting down');
    }
    for (const record of this.commands.values()) this.clearCommandTimers(record);
  }

  // ------------------------------------------------------------ connections

  /** Opens a connection for a transport. See the module comment for the contract. */
  connect(peer: RelayPeer, options: ConnectOptions = {}): RelayConnection {
    const state: ConnectionState = {
      peer,
      codecs: options.codecs ?? ['none'],
      open: true,
      order: ++this.connectionOrder,
    };
    if (this.isClosed) {
      this.safeClose(peer, CloseCode.GoingAway, 'relay shutting down');
      state.open = false;
      return { receive: () => undefined, closed: () => undefined };
    }
    this.connections.add(state);
    state.helloTimer = this.scheduler.setTimer(() => {
      state.helloTimer = undefined;
      if (state.open && !state.device) {
        this.closeConnection(state, CloseCode.HelloTimeout, RelayErrorCode.HelloTimeout);
      }
    }, this.helloTimeoutMs);
    return {
      receive: (message) => this.receive(state, message),
      closed: () => this.dropConnection(state),
    };
  }

  private receive(connection: ConnectionState, raw: unknown): void {
    if (!connection.open) return;
    let message: ClientMessage;
    try {
      message = parseClientMessage(raw);
    } catch (error) {
      const code = isSyncError(error) ? error.code : 'PROTOCOL_INVALID_MESSAGE';
      const text = error instanceof Error ? error.message : 'invalid message';
      // Before hello nothing can go on: the device has not said who it is.
      if (!connection.device && isSyncError(error) && error.details?.field === 'token') {
        this.sendError(connection, RelayErrorCode.InvalidToken, 'missing or malformed token');
        this.closeConnection(connection, CloseCode.Unauthorized, RelayErrorCode.InvalidToken);
        return;
      }
      this.sendError(connection, code, text, requestIdOf(raw));
      if (!connection.device) this.closeConnection(connection, CloseCode.ProtocolError, code);
      return;
    }
    try {
      if (!connection.device) {
        if (message.type !== 'hello') {
          this.sendError(connection, RelayErrorCode.ExpectedHello, 'the first message must be hello', requestIdOf(raw));
          this.closeConnection(connection, CloseCode.ProtocolError, RelayErrorCode.ExpectedHello);
          return;
        }
        this.handleHello(connection, message);
        return;
      }
      this.handleMessage(connection, connection.device, message);
    } catch (error) {
      // A bug here must not take other connections down: report it and end this one.
      this.sendError(connection, RelayErrorCode.Internal, 'the relay failed handling a message', requestIdOf(raw));
      this.closeConnection(connection, CloseCode.InternalError, RelayErrorCode.Internal);
      this.onInternalError?.(error);
    }
  }

  private handleHello(connection: ConnectionState, hello: HelloMessage): void {
    let chosen: { protocolVersion: number; codec: CodecName };
    try {
      chosen = negotiate(hello, { versions: PROTOCOL_VERSIONS, codecs: connection.codecs });
    } catch (error) {
      const code = isSyncError(error) ? error.code : 'PROTOCOL_UNSUPPORTED_VERSION';
      this.sendError(connection, code, 'no protocol version in common');
      this.closeConnection(connection, CloseCode.UnsupportedVersion, code);
      return;
    }
    const tokenDevice = this.tokens.get(hello.token);
    const device = tokenDevice === undefined ? undefined : this.devices.get(tokenDevice);
    if (!device) {
      this.sendError(connection, RelayErrorCode.InvalidToken, 'unknown token');
      this.closeConnection(connection, CloseCode.Unauthorized, RelayErrorCode.InvalidToken);
      return;
    }
    if (device.revoked || device.deviceId !== hello.deviceId) {
      this.sendError(connection, RelayErrorCode.Forbidden, 'the token does not allow this device');
      this.closeConnection(connection, CloseCode.Forbidden, RelayErrorCode.Forbidden);
      return;
    }
    const user = this.users.get(device.userId)!;
    if (connection.helloTimer) this.scheduler.clearTimer(connection.helloTimer);
    connection.helloTimer = undefined;
    connection.device = device;

    this.send(connection, {
      type: 'welcome',
      protocolVersion: chosen.protocolVersion,
      codec: chosen.codec,
      userId: user.userId,
      deviceId: device.deviceId,
      serverCursor: user.log.serverCursor,
      resync: user.log.needsResync(hello.cursor),
      lastClientSeq: user.log.lastClientSeq(device.deviceId),
    });

    const wasOffline = device.connections.size === 0;
    device.connections.add(connection);
    if (wasOffline) {
      device.presence = { state: 'online' };
      this.broadcastPresence(device);
    }
    // Tell the newcomer who else is here.
    for (const otherId of user.devices) {
      const other = this.devices.get(otherId)!;
      if (other === device || other.connections.size === 0) continue;
      this.send(connection, { type: 'presence', deviceId: other.deviceId, ...other.presence });
    }
    const results = device.undeliveredResults.splice(0);
    for (const result of results) this.send(connection, result);
    this.deliverPendingCommands(device);
  }

  private handleMessage(connection: ConnectionState, device: DeviceRecord, message: ClientMessage): void {
    switch (message.type) {
      case 'hello':
        this.sendError(connection, RelayErrorCode.DuplicateHello, 'hello was already received');
        return;
      case 'auth': {
        const tokenDevice = this.tokens.get(message.token);
        if (tokenDevice === device.deviceId && !device.revoked) {
          this.send(connection, { type: 'auth.ok', replyTo: message.id });
          return;
        }
        this.sendError(connection, RelayErrorCode.InvalidToken, 'the token is not valid for this device', message.id);
        this.closeConnection(connection, CloseCode.Unauthorized, RelayErrorCode.InvalidToken);
        return;
      }
      case 'ping':
        this.send(connection, { type: 'pong', replyTo: message.id });
        return;
      case 'push':
        this.handlePush(connection, device, message);
        return;
      case 'pull': {
        const user = this.users.get(device.userId)!;
        const limit = Math.min(Math.max(1, Math.floor(message.limit)), MAX_PULL_LIMIT);
        const page = user.log.pull(message.cursor, limit);
        this.send(connection, { type: 'changes', replyTo: message.id, ...page });
        return;
      }
      case 'command.send':
        this.handleCommandSend(connection, device, message);
        return;
      case 'command.response':
        this.handleCommandResponse(connection, device, message);
        return;
      case 'presence.update':
        device.presence =
          message.activeTaskId === undefined
            ? { state: message.state }
            : { state: message.state, activeTaskId: message.activeTaskId };
        this.broadcastPresence(device);
        return;
    }
  }

  private handlePush(connection: ConnectionState, device: DeviceRecord, message: PushMessage): void {
    const user = this.users.get(device.userId)!;
    const result = user.log.push(device.deviceId, message.changes);
    if (result.conflicts.length > 0) {
      this.send(connection, {
        type: 'conflict',
        replyTo: message.id,
        accepted: result.accepted,
        conflicts: result.conflicts,
      });
    } else {
      this.send(connection, { type: 'ack', replyTo: message.id, accepted: result.accepted });
    }
    if (result.committed.length === 0) return;
    const live: ServerMessage = {
      type: 'changes',
      changes: result.committed,
      cursor: result.committed[result.committed.length - 1]!.seq,
      hasMore: false,
    };
    this.forEachOtherConnection(device, (other) => this.send(other, live));
  }

  // ------------------------------------------------------------ commands

  private handleCommandSend(connection: ConnectionState, device: DeviceRecord, message: CommandSendMessage): void {
    const target = this.devices.get(message.targetDeviceId);
    if (!target || target.revoked || target.userId !== device.userId) {
      this.sendError(connection, RelayErrorCode.CommandTargetUnknown, 'no such device', message.id);
      return;
    }
    if (target === device) {
      this.sendError(connection, RelayErrorCode.CommandTargetSelf, 'a device cannot command itself', message.id);
      return;
    }
    const taskId = message.command.taskId;
    if (taskId !== undefined) {
      for (const other of this.commands.values()) {
        if (
          !other.finished &&
          other.userId === device.userId &&
          other.targetDeviceId === target.deviceId &&
          other.command.taskId === taskId &&
          other.fromDeviceId !== device.deviceId
        ) {
          this.sendError(
            connection,
            RelayErrorCode.CommandTaskBusy,
            'the task has an unfinished command from another device',
            message.id,
          );
          return;
        }
      }
    }
    const ttlMs = Math.min(Math.max(1, message.command.ttlMs ?? this.defaultCommandTtlMs), this.maxCommandTtlMs);
    const now = this.scheduler.now();
    const record: CommandRecord = {
      commandId: asCommandId(this.newId('command')),
      userId: device.userId,
      fromDeviceId: device.deviceId,
      targetDeviceId: target.deviceId,
      command: structuredClone(message.command),
      priority: message.command.priority ?? 0,
      order: ++this.commandOrder,
      ttlMs,
      expiresAt: now + ttlMs,
      attempt: 0,
      acknowledged: false,
      finished: false,
    };
    this.commands.set(record.commandId, record);
    this.scheduleExpiry(record);
    this.send(connection, {
      type: 'command.queued',
      replyTo: message.id,
      commandId: record.commandId,
      expiresAt: record.expiresAt,
    });
    this.deliverPendingCommands(target);
  }

  private handleCommandResponse(connection: ConnectionState, device: DeviceRecord, message: CommandResponseMessage): void {
    const record = this.commands.get(message.commandId);
    if (!record || record.targetDeviceId !== device.deviceId) {
      // Unknown, another device's, or already finished or expired (finished commands are forgotten).
      this.sendError(connection, RelayErrorCode.CommandUnknown, 'no such command for this device', message.id);
      return;
    }
    record.acknowledged = true;
    if (record.redeliveryTimer) this.scheduler.clearTimer(record.redeliveryTimer);
    record.redeliveryTimer = undefined;
    const outcome: Omit<CommandResultMessage, 'type' | 'commandId' | 'targetDeviceId'> = { status: message.status };
    if (message.result !== undefined) outcome.result = message.result;
    if (message.error !== undefined) outcome.error = message.error;
    if (message.status === 'done' || message.status === 'failed') {
      this.finishCommand(record, outcome);
      return;
    }
    // The target is working on it: keep the command alive for another ttl.
    record.expiresAt = Math.max(record.expiresAt, this.scheduler.now() + record.ttlMs);
    this.scheduleExpiry(record);
    this.sendResult(record, outcome);
  }

  /** Sends every unacknowledged command of a device, highest priority first, if it is connected. */
  private deliverPendingCommands(device: DeviceRecord): void {
    if (device.connections.size === 0) return;
    const pending = [...this.commands.values()]
      .filter((r) => r.targetDeviceId === device.deviceId && !r.finished && !r.acknowledged)
      .sort((a, b) => b.priority - a.priority || a.order - b.order);
    for (const record of pending) this.deliverCommand(record);
  }

  private deliverCommand(record: CommandRecord): void {
    if (record.redeliveryTimer) this.scheduler.clearTimer(record.redeliveryTimer);
    record.redeliveryTimer = undefined;
    const target = this.devices.get(record.targetDeviceId);
    const connection = target && newestConnection(target);
    if (!connection) return; // Delivered when the target connects.
    record.attempt++;
    this.send(connection, {
      type: 'command.deliver',
      commandId: record.commandId,
      fromDeviceId: record.fromDeviceId,
      command: record.command,
      attempt: record.attempt,
    });
    const delay = Math.min(this.retryMaxMs, this.retryInitialMs * 2 ** (record.attempt - 1));
    record.redeliveryTimer = this.scheduler.setTimer(() => {
      record.redeliveryTimer = undefined;
      if (!record.finished && !record.acknowledged && !this.isClosed) this.deliverCommand(record);
    }, delay);
  }

  private scheduleExpiry(record: CommandRecord): void {
    if (record.expiryTimer) this.scheduler.clearTimer(record.expiryTimer);
    record.expiryTimer = this.scheduler.setTimer(() => {
      record.expiryTimer = undefined;
      if (!record.finished && !this.isClosed) this.finishCommand(record, { status: 'expired' });
    }, record.expiresAt - this.scheduler.now());
  }

  private finishCommand(record: CommandRecord, outcome: Omit<CommandResultMessage, 'type' | 'commandId' | 'targetDeviceId'>): void {
    record.finished = true;
    this.clearCommandTimers(record);
    this.commands.delete(record.commandId);
    this.sendResult(record, outcome);
  }

  private clearCommandTimers(record: CommandRecord): void {
    if (record.redeliveryTimer) this.scheduler.clearTimer(record.redeliveryTimer);
    if (record.expiryTimer) this.scheduler.clearTimer(record.expiryTimer);
    record.redeliveryTimer = undefined;
    record.expiryTimer = undefined;
  }

  /** Tells the sender what became of its command; kept until it connects when it is offline. */
  private sendResult(record: CommandRecord, outcome: Omit<CommandResultMessage, 'type' | 'commandId' | 'targetDeviceId'>): void {
    const message: CommandResultMessage = {
      type: 'command.result',
      commandId: record.commandId,
      targetDeviceId: record.targetDeviceId,
      ...outcome,
    };
    const sender = this.devices.get(record.fromDeviceId);
    if (!sender || sender.revoked) return;
    if (sender.connections.size === 0) {
      sender.undeliveredResults.push(message);
      if (sender.undeliveredResults.length > MAX_UNDELIVERED_RESULTS) sender.undeliveredResults.shift();
      return;
    }
    for (const connection of sender.connections) this.send(connection, message);
  }

  // ------------------------------------------------------------ presence and fan-out

  private broadcastPresence(device: DeviceRecord): void {
    const message: ServerMessage = { type: 'presence', deviceId: device.deviceId, ...device.presence };
    this.forEachOtherConnection(device, (other) => this.send(other, message));
  }

  /** Every authenticated connection of the device's user except the device's own. */
  private forEachOtherConnection(device: DeviceRecord, fn: (connection: ConnectionState) => void): void {
    const user = this.users.get(device.userId)!;
    for (const otherId of user.devices) {
      if (otherId === device.deviceId) continue;
      const other = this.devices.get(otherId)!;
      for (const connection of other.connections) fn(connection);
    }
  }

  // ------------------------------------------------------------ plumbing

  private send(connection: ConnectionState, message: ServerMessage): void {
    if (!connection.open) return;
    try {
      connection.peer.send(this.isolate ? structuredClone(message) : message);
    } catch {
      // A transport that fails to send will report the connection closed; nothing to do here.
    }
  }

  private sendError(connection: ConnectionState, code: string, message: string, replyTo?: RequestId): void {
    this.send(connection, replyTo === undefined ? { type: 'error', code, message } : { type: 'error', replyTo, code, message });
  }

  private safeClose(peer: RelayPeer, code: number, reason: string): void {
    try {
      peer.close(code, reason);
    } catch {
      // The transport is already gone.
    }
  }

  private closeConnection(connection: ConnectionState, code: number, reason: string): void {
    if (!connection.open) return;
    this.dropConnection(connection);
    this.safeClose(connection.peer, code, reason);
  }

  /** Forgets a connection; presence goes offline when it was the device's last one. */
  private dropConnection(connection: ConnectionState): void {
    if (!connection.open) return;
    connection.open = false;
    this.connections.delete(connection);
    if (connection.helloTimer) this.scheduler.clearTimer(connection.helloTimer);
    connection.helloTimer = undefined;
    const device = connection.device;
    if (!device || !device.connections.delete(connection)) return;
    if (device.connections.size === 0) {
      device.presence = { state: 'offline' };
      if (!this.isClosed) this.broadcastPresence(device);
    }
  }
}

function newestConnection(device: DeviceRecord): ConnectionState | undefined {
  let newest: ConnectionState | undefined;
  for (const connection of device.connections) {
    if (!newest || connection.order > newest.order) newest = connection;
  }
  return newest;
}

/** The request id of a (possibly invalid) message, so an error can name it. */
function requestIdOf(raw: unknown): RequestId | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const id = (raw as { id?: unknown }).id;
  // Only an id the peer's validator accepts can name the request in a reply.
  return typeof id === 'string' && /^[\x21-\x7e]{1,128}$/.test(id) ? (id as RequestId) : undefined;
}
