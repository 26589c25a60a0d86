/**
 * Validators of every wire message (messages.ts), one per union member, for both directions.
 * Input is whatever a peer sent (parsed JSON from `FrameCodec.decode`); output is a fresh,
 * typed message holding only known fields.
 *
 * Errors are SyncErrors with stable codes:
 * - `PROTOCOL_MALFORMED`: not an object, or no string `type`;
 * - `PROTOCOL_UNKNOWN_TYPE`: a `type` this direction does not have (details: type);
 * - `PROTOCOL_INVALID_FIELD`: details `{ field, expected }`, e.g. `changes[3].body.key`.
 * Every error's details also carry `messageType` and, when the message had a usable `id`,
 * `requestId`, so the relay can name the request in its error reply.
 */
import { SyncError } from '../errors';
import {
  CODEC_NAMES,
  COMMAND_RESULT_STATUSES,
  MAX_PULL_LIMIT,
  PRESENCE_STATES,
  REMOTE_COMMAND_KINDS,
  type ClientMessage,
  type ClientMessageType,
  type CodecName,
  type RemoteCommand,
  type ServerMessage,
  type ServerMessageType,
} from './messages';
import {
  commandId,
  cursor,
  deviceId,
  PROTOCOL_LIMITS,
  requestId,
  seqNumber,
  taskId,
  token,
  userId,
} from './fields';
import { arrayOf, bool, checkAt, fieldAt, int, invalid, isPlainObject, object, oneOf, optional, present, str, type Check } from './schema';
import { clientChange, serverChange } from './validate-changes';

export { parseChangeBody, parseClientChange, parseServerChange } from './validate-changes';
export { PROTOCOL_LIMITS } from './fields';

const L = PROTOCOL_LIMITS;
const changesList = { max: L.maxChangesPerMessage };

/** Codec names a peer offers: unknown names (a newer peer's codecs) are dropped, not refused. */
const offeredNames = arrayOf(str({ min: 1, max: 32 }), { min: 1, max: L.maxOffers });
const codecOffers: Check<CodecName[]> = (value, parent, key) => {
  const names = offeredNames(value, parent, key);
  return names.filter((name): name is CodecName => (CODEC_NAMES as readonly string[]).includes(name));
};

const remoteCommandShape = object({
  kind: oneOf(REMOTE_COMMAND_KINDS),
  taskId: optional(taskId),
  text: optional(str({ max: L.maxCommandTextLength })),
  images: optional(
    arrayOf(str({ min: 5, max: L.maxImageDataUrlLength, pattern: /^data:image\//, expected: 'image data URL' }), {
      max: L.maxCommandImages,
    }),
  ),
  priority: optional(int(-L.maxCommandPriority, L.maxCommandPriority)),
  ttlMs: optional(int(1, L.maxCommandTtlMs)),
});

const remoteCommand: Check<RemoteCommand> = (value, parent, key) => {
  const command = remoteCommandShape(value, parent, key);
  if (command.kind !== 'task.start' && command.taskId === undefined) {
    invalid(`${fieldAt(parent, key)}.taskId`, `task id (required for ${command.kind})`);
  }
  return command;
};

const errorInfo = object({
  code: str({ min: 1, max: 128 }),
  message: str({ max: L.maxErrorMessageLength }),
});

const accepted = arrayOf(object({ clientSeq: seqNumber, seq: seqNumber }), changesList);

const CLIENT_CHECKS: { [T in ClientMessageType]: Check<Extract<ClientMessage, { type: T }>> } = {
  hello: object({
    type: oneOf(['hello']),
    protocolVersions: arrayOf(int(1, 65535), { min: 1, max: L.maxOffers }),
    codecs: codecOffers,
    token,
    deviceId,
    cursor,
  }),
  auth: object({ type: oneOf(['auth']), id: requestId, token }),
  push: object({ type: oneOf(['push']), id: requestId, changes: arrayOf(clientChange, changesList) }),
  pull: object({ type: oneOf(['pull']), id: requestId, cursor, limit: int(1, MAX_PULL_LIMIT) }),
  'command.send': object({ type: oneOf(['command.send']), id: requestId, targetDeviceId: deviceId, command: remoteCommand }),
  'command.response': object({
    type: oneOf(['command.response']),
    id: requestId,
    commandId,
    status: oneOf(COMMAND_RESULT_STATUSES.filter((s): s is Exclude<typeof s, 'expired'> => s !== 'expired')),
    result: optional(present),
    error: optional(errorInfo),
  }),
  'presence.update': object({ type: oneOf(['presence.update']), state: oneOf(PRESENCE_STATES), activeTaskId: optional(taskId) }),
  ping: object({ type: oneOf(['ping']), id: requestId }),
};

const SERVER_CHECKS: { [T in ServerMessageType]: Check<Extract<ServerMessage, { type: T }>> } = {
  welcome: object({
    type: oneOf(['welcome']),
    protocolVersion: int(1, 65535),
    codec: oneOf(CODEC_NAMES),
    userId,
    deviceId,
    serverCursor: cursor,
    resync: bool,
    // Optional: relays before it omit it (see WelcomeMessage.lastClientSeq).
    lastClientSeq: optional(cursor),
  }),
  'auth.ok': object({ type: oneOf(['auth.ok']), replyTo: requestId }),
  ack: object({ type: oneOf(['ack']), replyTo: requestId, accepted }),
  conflict: object({
    type: oneOf(['conflict']),
    replyTo: requestId,
    accepted,
    conflicts: arrayOf(
      object({ clientSeq: seqNumber, entity: str({ min: 1, max: L.maxEntityLength }), current: serverChange }),
      changesList,
    ),
  }),
  changes: object({
    type: oneOf(['changes']),
    replyTo: optional(requestId),
    changes: arrayOf(serverChange, changesList),
    cursor,
    hasMore: bool,
  }),
  error: object({
    type: oneOf(['error']),
    replyTo: optional(requestId),
    code: str({ min: 1, max: 128, pattern: /^[A-Z][A-Z0-9_]*$/, expected: 'UPPER_SNAKE error code' }),
    message: str({ max: L.maxErrorMessageLength }),
  }),
  'command.queued': object({ type: oneOf(['command.queued']), replyTo: requestId, commandId, expiresAt: int(0) }),
  'command.deliver': object({
    type: oneOf(['command.deliver']),
    commandId,
    fromDeviceId: deviceId,
    command: remoteCommand,
    attempt: int(0),
  }),
  'command.result': object({
    type: oneOf(['command.result']),
    commandId,
    targetDeviceId: deviceId,
    status: oneOf(COMMAND_RESULT_STATUSES),
    result: optional(present),
    error: optional(errorInfo),
  }),
  presence: object({ type: oneOf(['presence']), deviceId, state: oneOf(PRESENCE_STATES), activeTaskId: optional(taskId) }),
  pong: object({ type: oneOf(['pong']), replyTo: requestId }),
};

function parseMessage<M>(value: unknown, checks: Record<string, Check<unknown>>, direction: string): M {
  if (!isPlainObject(value)) {
    throw new SyncError('PROTOCOL_MALFORMED', `${direction} message is not an object`);
  }
  const type = value.type;
  if (typeof type !== 'string') throw new SyncError('PROTOCOL_MALFORMED', `${direction} message has no type`);
  if (!Object.hasOwn(checks, type)) {
    throw new SyncError('PROTOCOL_UNKNOWN_TYPE', `unknown ${direction} message type`, {
      messageType: type.slice(0, 64),
      ...requestIdOf(value),
    });
  }
  try {
    return checkAt(checks[type]!, value, '') as M;
  } catch (err) {
    if (!(err instanceof SyncError)) throw err;
    throw new SyncError(err.code, `${type}: ${err.message}`, { ...err.details, messageType: type, ...requestIdOf(value) });
  }
}

function requestIdOf(value: Record<string, unknown>): { requestId?: string } {
  try {
    return value.id === undefined ? {} : { requestId: checkAt(requestId, value.id, 'id') };
  } catch {
    return {};
  }
}

/** Validates a message a device sent to the relay. */
export function parseClientMessage(value: unknown): ClientMessage {
  return parseMessage<ClientMessage>(value, CLIENT_CHECKS, 'client');
}

/** Validates a message the relay sent to a device. */
export function parseServerMessage(value: unknown): ServerMessage {
  return parseMessage<ServerMessage>(value, SERVER_CHECKS, 'server');
}
