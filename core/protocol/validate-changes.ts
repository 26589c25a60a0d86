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
} from '../model/changes';
import { normaliseRemotePath } from '../paths/remote-path';
import { cursor, deviceId, entryKey, hlcStamp, PROTOCOL_LIMITS, seqNumber, sha256, taskId, workspaceId } from './fields';
import { bool, int, invalid, isPlainObject, nullable, num, object, oneOf, present, record, str, type Check } from './schema';

const L = PROTOCOL_LIMITS;
const source = oneOf(TASK_SOURCES);
const stream = oneOf(STREAM_NAMES);

/** A workspace-relative path, already in the canonical form of core/paths. */
const remotePath: Check<string> = (value, field) => {
  if (typeof value !== 'string') invalid(field, 'normalised relative path');
  let normal: string;
  try {
    normal = normaliseRemotePath(value);
  } catch (err) {
    invalid(field, 'normalised relative path', { reason: err instanceof SyncError ? err.code : 'PATH_INVALID' });
  }
  if (normal !== value) invalid(field, 'normalised relative path', { reason: 'PATH_NOT_NORMALISED' });
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

const streamHead = object({ source, taskId, stream });

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

const BODY_CHECKS: Record<ChangeType, Check<ChangeBody>> = {
  'task.meta': (value, field) => {
    const body = taskMeta(value, field);
    const fieldNames = Object.keys(body.fields);
    const clockNames = Object.keys(body.clocks);
    if (fieldNames.length !== clockNames.length || fieldNames.some((name) => !(name in body.clocks))) {
      invalid(`${field}.clocks`, 'exactly one clock per field in fields');
    }
    return body;
  },
  'task.delete': taskDelete,
  'stream.put': (value, field) => {
    const head = streamHead(value, field);
    const v = value as Record<string, unknown>;
    return {
      type: 'stream.put',
      ...head,
      key: entryKey(head.stream)(v.key, `${field}.key`),
      hash: sha256(v.hash, `${field}.hash`),
      entry: present(v.entry, `${field}.entry`),
    };
  },
  'stream.truncate': (value, field) => {
    const head = streamHead(value, field);
    const afterKey = nullable(entryKey(head.stream as StreamName))((value as Record<string, unknown>).afterKey, `${field}.afterKey`);
    return { type: 'stream.truncate', ...head, afterKey };
  },
  'file.put': filePut,
  'file.delete': fileDelete,
};

/**
 * Validates one change body. Throws SyncError `PROTOCOL_UNKNOWN_TYPE` for a type that is not
 * a ChangeType, `PROTOCOL_INVALID_FIELD` (details: field, expected) for anything else.
 */
export function parseChangeBody(value: unknown, field = 'body'): ChangeBody {
  if (!isPlainObject(value)) invalid(field, 'change body object');
  const type = value.type;
  if (typeof type !== 'string' || !Object.hasOwn(BODY_CHECKS, type)) {
    throw new SyncError('PROTOCOL_UNKNOWN_TYPE', `unknown change type ${JSON.stringify(type)?.slice(0, 64)}`, {
      field: `${field}.type`,
      expected: `one of ${Object.keys(BODY_CHECKS).join(', ')}`,
    });
  }
  return BODY_CHECKS[type as ChangeType](value, field);
}

const clientChangeShape = object({ clientSeq: seqNumber, baseSeq: nullable(cursor) });

/** Validates a change as a device pushes it. */
export function parseClientChange(value: unknown, field = 'change'): ClientChange {
  const head = clientChangeShape(value, field);
  return { ...head, body: parseChangeBody((value as Record<string, unknown>).body, `${field}.body`) };
}

const serverChangeShape = object({
  seq: seqNumber,
  deviceId,
  entity: str({ min: 1, max: L.maxEntityLength }),
});

/** Validates a change as the relay sends it; `entity` must be `entityKeyOf(body)`. */
export function parseServerChange(value: unknown, field = 'change'): ServerChange {
  const change = parseClientChange(value, field);
  const head = serverChangeShape(value, field);
  if (head.entity !== entityKeyOf(change.body)) invalid(`${field}.entity`, 'entityKeyOf(body)');
  return { seq: head.seq, deviceId: head.deviceId, entity: head.entity, ...change };
}

export const clientChange: Check<ClientChange> = parseClientChange;
export const serverChange: Check<ServerChange> = parseServerChange;
