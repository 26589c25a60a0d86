/**
 * Field rules shared by the message and change validators: ids, keys, hashes and the size
 * limits a peer must respect. Limits are generous for real use and small enough that one
 * message cannot make the receiver do unbounded work before the frame cap applies.
 */
import type { CommandId, DeviceId, RequestId, TaskId, UserId, WorkspaceId } from '../ids';
import { SHA256_HEX } from '../model/hash-format';
import { fieldAt, int, invalid, str, type Check } from './schema';

export const PROTOCOL_LIMITS = {
  /** Request ids, command ids, device and user ids. */
  maxIdLength: 128,
  /** Access tokens (`hello`, `auth`). */
  maxTokenLength: 8192,
  /** Changes in one `push`, `changes`, `ack` or `conflict` message. */
  maxChangesPerMessage: 1000,
  /** Protocol versions or codecs offered in `hello`. */
  maxOffers: 16,
  /** HistoryItem fields in one `task.meta` change. */
  maxMetaFields: 256,
  maxMetaFieldNameLength: 128,
  /** Text of a remote command (a prompt). */
  maxCommandTextLength: 1_000_000,
  /** Images in a remote command, and the size of one data URL. */
  maxCommandImages: 20,
  maxImageDataUrlLength: 20_000_000,
  /** `error` and `command.*` error messages. */
  maxErrorMessageLength: 16_384,
  /** Longest accepted remote-command time to live: 30 days. */
  maxCommandTtlMs: 30 * 86_400_000,
  /** Remote-command priority range. */
  maxCommandPriority: 1_000_000,
  /** Entity keys (`task/...`, `stream/...`, `file/...`). */
  maxEntityLength: 8192,
} as const;

const L = PROTOCOL_LIMITS;

/** Printable ASCII without spaces: ids are opaque but must be safe in logs and URLs. */
const VISIBLE_ASCII = /^[\x21-\x7e]+$/;
/**
 * Task and workspace ids become directory names on the receiving device, so they must be one
 * safe path segment: `Date.now()` strings and UUIDs pass; `..`, `/`, `\` never do.
 */
const SEGMENT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

const visibleId = (what: string) =>
  str({ min: 1, max: L.maxIdLength, pattern: VISIBLE_ASCII, expected: `${what}: 1..${L.maxIdLength} visible ASCII characters` });
const segmentId = (what: string) =>
  str({ min: 1, max: L.maxIdLength, pattern: SEGMENT_ID, expected: `${what}: 1..${L.maxIdLength} of [A-Za-z0-9._-], starting alphanumeric` });

export const requestId = visibleId('request id') as Check<RequestId>;
export const deviceId = visibleId('device id') as Check<DeviceId>;
export const userId = visibleId('user id') as Check<UserId>;
export const commandId = visibleId('command id') as Check<CommandId>;
export const taskId = segmentId('task id') as Check<TaskId>;
export const workspaceId = segmentId('workspace id') as Check<WorkspaceId>;

export const token = str({ min: 1, max: L.maxTokenLength, pattern: VISIBLE_ASCII, expected: 'token: visible ASCII' });

export const sha256 = str({ min: 64, max: 64, pattern: SHA256_HEX, expected: 'sha256: 64 lowercase hex digits' });

/** `<wall ms, 15 digits>-<counter, 6 digits>-<device id>` (core/model/hlc.ts). */
export const hlcStamp = str({
  min: 24,
  max: 23 + L.maxIdLength,
  pattern: /^\d{15}-\d{6}-[\x21-\x7e]+$/,
  expected: 'HLC stamp <15 digits>-<6 digits>-<device id>',
});

/** A `seq` or `clientSeq`: numbering starts at 1. */
export const seqNumber = int(1);
/** A cursor: the highest seq seen, 0 for none. */
export const cursor = int(0);

/** Numbers without leading zeros, so one entry has exactly one key. */
const CANONICAL = '(?:0|[1-9]\\d*)';
const UI_KEY = new RegExp(`^${CANONICAL}:${CANONICAL}$`);
const API_KEY = new RegExp(`^${CANONICAL}$`);

/** ui: `<ts>:<occurrence>`, api: `<position>`; both parts safe integers, canonical decimal. */
export function entryKey(stream: 'ui' | 'api'): Check<string> {
  return stream === 'ui' ? uiKey : apiKey;
}

/**
 * Canonical decimal of at most 15 digits is always a safe integer, so only longer parts
 * (`pattern` already matched) are converted.
 */
function safeParts(value: string): boolean {
  let start = 0;
  for (;;) {
    const colon = value.indexOf(':', start);
    const end = colon === -1 ? value.length : colon;
    if (end - start > 15 && !Number.isSafeInteger(Number(value.slice(start, end)))) return false;
    if (colon === -1) return true;
    start = colon + 1;
  }
}

function keyCheck(pattern: RegExp, expected: string): Check<string> {
  return (value, parent, key) => {
    if (typeof value !== 'string' || value.length > 40 || !pattern.test(value) || !safeParts(value)) invalid(fieldAt(parent, key), expected);
    return value;
  };
}

const uiKey = keyCheck(UI_KEY, 'ui key <ts>:<occurrence>');
const apiKey = keyCheck(API_KEY, 'api key <position>');
