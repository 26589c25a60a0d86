/**
 * Validators of the change bodies of core/model/changes.ts and of the changes that carry
 * them. Structural only: a stream entry's `hash` is checked for shape here; whether it is
 * the hash of `entry` is for the code that applies it.
 */
import { SyncError } from '../errors';
import {
  entityKeyOf,
  STREAM_NAMES,
  TASK_SOURCES,
  type ChangeBody,
  type ChangeType,
  type ClientChange,
  type ServerChange,
  type StreamName,
  type TaskSource,
} from '../model/changes';
import type { TaskId } from '../ids';
import { normaliseRemotePath } from '../paths/remote-path';
import { cursor, deviceId, entryKey, hlcStamp, PROTOCOL_LIMITS, seqNumber, sha256, taskId, workspaceId } from './fields';
import { bool, checkAt, dotKey, enter, fieldAt, int, invalid, isPlainObject, nullable, num, object, oneOf, present, record, str, type Check, type Path } from './schema';

const L = PROTOCOL_LIMITS;
const source = oneOf(TASK_SOURCES);
const stream = oneOf(STREAM_NAMES);

/** A workspace-relative path, already in the canonical form of core/paths. */
const remotePath: Check<string> = (value, parent, key) => {
  if (typeof value !== 'string') invalid(fieldAt(parent, key), 'normalised relative path');
  let normal: string;
  try {
    normal = normaliseRemotePath(value);
  } catch (err) {
    invalid(fieldAt(parent, key), 'normalised relative path', { reason: err instanceof SyncError ? err.code : 'PATH_INVALID' });
  }
  if (normal !== value) invalid(fieldAt(parent, key), 'normalised relative path', { reason: 'PATH_NOT_NORMALISED' });
  return value;
};

const taskMeta = object({
  type: oneOf(['task.meta']),
  source,
  taskId,
  fields: record(present, { maxKeys: L.maxMetaFields, maxKeyLength: L.maxMetaFieldNameLength }),
  clocks: record(hlcStamp, { maxKeys: L.maxMetaFields, maxKeyLength: L.maxMetaFieldNameLength }),
});

const taskDelete = object({ type: oneOf(['task.delete']), source, taskId, clock: hlcStamp });

const filePut = object({
  type: oneOf(['file.put']),
  workspaceId,
  path: remotePath,
  hash: sha256,
  size: int(0),
  /** st_mode bits: file type and permissions. */
  mode: int(0, 0xffff),
  /** Milliseconds since the epoch; fractions allowed (fs `mtimeMs` has them). */
  mtime: num(0),
  binary: bool,
});

const fileDelete = object({ type: oneOf(['file.delete']), workspaceId, path: remotePath });

const afterKeys = { ui: nullable(entryKey('ui')), api: nullable(entryKey('api')) };

/** The fields every stream change starts with, checked in this order (the body is a plain object). */
function streamHead(v: Record<string, unknown>, at: Path): { source: TaskSource; taskId: TaskId; stream: StreamName } {
  return { source: source(v.source, at, 'source'), taskId: taskId(v.taskId, at, 'taskId'), stream: stream(v.stream, at, 'stream') };
}

const BODY_CHECKS: Record<ChangeType, Check<ChangeBody>> = {
  'task.meta': (value, parent, key) => {
    const body = taskMeta(value, parent, key);
    const fieldNames = Object.keys(body.fields);
    const clockNames = Object.keys(body.clocks);
    if (fieldNames.length !== clockNames.length || fieldNames.some((name) => !(name in body.clocks))) {
      invalid(`${fieldAt(parent, key)}.clocks`, 'exactly one clock per field in fields');
    }
    return body;
  },
  'task.delete': taskDelete,
  // The hottest check (a push is mostly these): fields are read once, no intermediate objects.
  'stream.put': (value, parent, key) => {
    const v = value as Record<string, unknown>;
    const at = enter(parent, key);
    const head = streamHead(v, at);
    return {
      type: 'stream.put',
      source: head.source,
      taskId: head.taskId,
      stream: head.stream,
      key: entryKey(head.stream)(v.key, at, dotKey(at, 'key')),
      hash: sha256(v.hash, at, dotKey(at, 'hash')),
      entry: present(v.entry, at, dotKey(at, 'entry')),
    };
  },
  'stream.truncate': (value, parent, key) => {
    const v = value as Record<string, unknown>;
    const at = enter(parent, key);
    const head = streamHead(v, at);
    const afterKey = afterKeys[head.stream](v.afterKey, at, dotKey(at, 'afterKey'));
    return { type: 'stream.truncate', source: head.source, taskId: head.taskId, stream: head.stream, afterKey };
  },
  'file.put': filePut,
  'file.delete': fileDelete,
};

const BODY_TYPES = `one of ${Object.keys(BODY_CHECKS).join(', ')}`;

function changeBody(value: unknown, parent: Path, key: string | number): ChangeBody {
  if (!isPlainObject(value)) invalid(fieldAt(parent, key), 'change body object');
  const type = value.type;
  if (typeof type !== 'string' || !Object.hasOwn(BODY_CHECKS, type)) {
    throw new SyncError('PROTOCOL_UNKNOWN_TYPE', `unknown change type ${JSON.stringify(type)?.slice(0, 64)}`, {
      field: `${fieldAt(parent, key)}.type`,
      expected: BODY_TYPES,
    });
  }
  return BODY_CHECKS[type as ChangeType](value, parent, key);
}

/**
 * Validates one change body. Throws SyncError `PROTOCOL_UNKNOWN_TYPE` for a type that is not
 * a ChangeType, `PROTOCOL_INVALID_FIELD` (details: field, expected) for anything else.
 */
export function parseChangeBody(value: unknown, field = 'body'): ChangeBody {
  return checkAt(changeBody, value, field);
}

function clientChangeAt(value: unknown, parent: Path, key: string | number): ClientChange {
  if (!isPlainObject(value)) invalid(fieldAt(parent, key), 'object');
  const at = enter(parent, key);
  const clientSeq = seqNumber(value.clientSeq, at, 'clientSeq');
  const baseSeq = value.baseSeq === null ? null : cursor(value.baseSeq, at, 'baseSeq');
  return { clientSeq, baseSeq, body: changeBody(value.body, at, dotKey(at, 'body')) };
}

/** Validates a change as a device pushes it. */
export function parseClientChange(value: unknown, field = 'change'): ClientChange {
  return checkAt(clientChangeAt, value, field);
}

const serverChangeShape = object({
  seq: seqNumber,
  deviceId,
  entity: str({ min: 1, max: L.maxEntityLength }),
});

function serverChangeAt(value: unknown, parent: Path, key: string | number): ServerChange {
  const change = clientChangeAt(value, parent, key);
  const head = serverChangeShape(value, parent, key);
  if (head.entity !== entityKeyOf(change.body)) invalid(`${fieldAt(parent, key)}.entity`, 'entityKeyOf(body)');
  return { seq: head.seq, deviceId: head.deviceId, entity: head.entity, ...change };
}

/** Validates a change as the relay sends it; `entity` must be `entityKeyOf(body)`. */
export function parseServerChange(value: unknown, field = 'change'): ServerChange {
  return checkAt(serverChangeAt, value, field);
}

export const clientChange: Check<ClientChange> = clientChangeAt;
export const serverChange: Check<ServerChange> = serverChangeAt;
