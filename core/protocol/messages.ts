/**
 * Every message of the sync protocol (DESIGN.md "Wire protocol") as one discriminated union
 * per direction. Validators live in `validate.ts`; frame encoding in `frame.ts`.
 *
 * Requests carry an `id` chosen by the sender; every reply carries `replyTo` with that id.
 */
import type { ClientChange, ServerChange } from '../model/changes';
import type { CommandId, DeviceId, RequestId, TaskId, UserId } from '../ids';

/** Protocol versions this build speaks, newest last. */
export const PROTOCOL_VERSIONS = [1] as const;

export const CODEC_NAMES = ['none', 'deflate', 'brotli'] as const;
/** Body compression. `deflate` (fflate) is the one every peer supports. */
export type CodecName = (typeof CODEC_NAMES)[number];

/** Largest page a pull may ask for. */
export const MAX_PULL_LIMIT = 1000;

// ---------------------------------------------------------------- remote commands

export const REMOTE_COMMAND_KINDS = [
  'task.start',
  'task.message',
  'task.approve',
  'task.deny',
  'task.cancel',
  'task.resume',
] as const;
export type RemoteCommandKind = (typeof REMOTE_COMMAND_KINDS)[number];

/** What one device asks another to do with its assistant. */
export interface RemoteCommand {
  kind: RemoteCommandKind;
  /** Required for every kind except `task.start`. */
  taskId?: TaskId;
  /** Message text (start, message, approve/deny feedback). */
  text?: string;
  /** Image data URLs, as the assistant's API takes them. */
  images?: string[];
  /** Higher runs first; default 0. */
  priority?: number;
  /** Time to live in ms from acceptance; default set by the relay. */
  ttlMs?: number;
}

export const COMMAND_RESULT_STATUSES = ['delivered', 'progress', 'done', 'failed', 'expired'] as const;
export type CommandResultStatus = (typeof COMMAND_RESULT_STATUSES)[number];

export const PRESENCE_STATES = ['online', 'idle', 'busy', 'offline'] as const;
export type PresenceState = (typeof PRESENCE_STATES)[number];

// ---------------------------------------------------------------- client -> server

/** First frame on every connection. Sent uncompressed. */
export interface HelloMessage {
  type: 'hello';
  protocolVersions: number[];
  codecs: CodecName[];
  /** Access token from the HTTP sign-in. */
  token: string;
  deviceId: DeviceId;
  /** Highest `seq` this device has applied (0 for none). */
  cursor: number;
}

/** Replace the access token of a live connection before it expires. */
export interface AuthMessage {
  type: 'auth';
  id: RequestId;
  token: string;
}

export interface PushMessage {
  type: 'push';
  id: RequestId;
  changes: ClientChange[];
}

export interface PullMessage {
  type: 'pull';
  id: RequestId;
  /** Return changes with `seq > cursor`. */
  cursor: number;
  /** Page size, 1..MAX_PULL_LIMIT. */
  limit: number;
}

/** Ask the relay to deliver a command to another device of the same user. */
export interface CommandSendMessage {
  type: 'command.send';
  id: RequestId;
  targetDeviceId: DeviceId;
  command: RemoteCommand;
}

/** The target device reports on a command it received (also streamed task progress). */
export interface CommandResponseMessage {
  type: 'command.response';
  id: RequestId;
  commandId: CommandId;
  status: Exclude<CommandResultStatus, 'expired'>;
  result?: unknown;
  error?: { code: string; message: string };
}

/** This device's presence changed. */
export interface PresenceUpdateMessage {
  type: 'presence.update';
  state: PresenceState;
  activeTaskId?: TaskId;
}

export interface PingMessage {
  type: 'ping';
  id: RequestId;
}

export type ClientMessage =
  | HelloMessage
  | AuthMessage
  | PushMessage
  | PullMessage
  | CommandSendMessage
  | CommandResponseMessage
  | PresenceUpdateMessage
  | PingMessage;

// ---------------------------------------------------------------- server -> client

/** Reply to `hello`: the version and codec chosen. */
export interface WelcomeMessage {
  type: 'welcome';
  protocolVersion: number;
  codec: CodecName;
  userId: UserId;
  deviceId: DeviceId;
  /** Highest `seq` in the user's log right now. */
  serverCursor: number;
  /**
   * True when the device's cursor is older than the log's compaction point: the device must
   * pull from 0 (a full resync) instead of from its cursor.
   */
  resync: boolean;
  /**
   * Highest `clientSeq` the relay has accepted from this device (0 for none), counting changes
   * compaction removed since. A push with a `clientSeq` at or below it is taken for a replay and
   * stores nothing, so a device whose outbox started numbering afresh (journal lost or reset)
   * must first move its numbering above it (`Outbox.anchor`). Optional on the wire: relays
   * before it omit the field (an older device drops it unread); relays of this build always
   * send it.
   */
  lastClientSeq?: number;
}

export interface AuthOkMessage {
  type: 'auth.ok';
  replyTo: RequestId;
}

export interface AcceptedChange {
  clientSeq: number;
  seq: number;
}

/** Reply to a push in which every change was accepted (or had been, for a replay). */
export interface AckMessage {
  type: 'ack';
  replyTo: RequestId;
  accepted: AcceptedChange[];
}

export interface ChangeConflict {
  clientSeq: number;
  entity: string;
  /** The latest version the relay holds for that entity. */
  current: ServerChange;
}

/** Reply to a push in which at least one change had a stale `baseSeq`. */
export interface ConflictMessage {
  type: 'conflict';
  replyTo: RequestId;
  accepted: AcceptedChange[];
  conflicts: ChangeConflict[];
}

/** A page of the log: reply to `pull` (with `replyTo`) or a live push after commit (without). */
export interface ChangesMessage {
  type: 'changes';
  replyTo?: RequestId;
  changes: ServerChange[];
  /** The cursor to pull from next. */
  cursor: number;
  hasMore: boolean;
}

export interface ErrorMessage {
  type: 'error';
  replyTo?: RequestId;
  code: string;
  message: string;
}

/** Reply to `command.send`: the command is queued. */
export interface CommandQueuedMessage {
  type: 'command.queued';
  replyTo: RequestId;
  commandId: CommandId;
  expiresAt: number;
}

/** A command for this device to carry out. Redelivered until a `command.response` arrives. */
export interface CommandDeliverMessage {
  type: 'command.deliver';
  commandId: CommandId;
  fromDeviceId: DeviceId;
  command: RemoteCommand;
  attempt: number;
}

/** Tells the sender of a command what became of it. */
export interface CommandResultMessage {
  type: 'command.result';
  commandId: CommandId;
  targetDeviceId: DeviceId;
  status: CommandResultStatus;
  result?: unknown;
  error?: { code: string; message: string };
}

/** Another device of the user came, went or changed state. */
export interface PresenceMessage {
  type: 'presence';
  deviceId: DeviceId;
  state: PresenceState;
  activeTaskId?: TaskId;
}

export interface PongMessage {
  type: 'pong';
  replyTo: RequestId;
}

export type ServerMessage =
  | WelcomeMessage
  | AuthOkMessage
  | AckMessage
  | ConflictMessage
  | ChangesMessage
  | ErrorMessage
  | CommandQueuedMessage
  | CommandDeliverMessage
  | CommandResultMessage
  | PresenceMessage
  | PongMessage;

export type ClientMessageType = ClientMessage['type'];
export type ServerMessageType = ServerMessage['type'];
