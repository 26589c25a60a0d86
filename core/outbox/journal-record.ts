/**
 * Framing of the outbox journal (DESIGN.md "Offline"): an append-only sequence of records,
 * each `length | length check | payload checksum | payload`.
 *
 * Layout of one record (all integers unsigned 32-bit little-endian):
 * - bytes 0-3: payload length in bytes (1 .. MAX_RECORD_BYTES)
 * - bytes 4-7: CRC-32 of bytes 0-3, so a damaged length is told apart from a short write
 * - bytes 8-11: CRC-32 of the payload
 * - then the payload: one JSON object as UTF-8 (a `JournalRecord`)
 *
 * The decoder reads records until the first one that does not check out and reports where
 * the valid prefix ends. A record cut short at the end of the file (or a zero-filled tail) is
 * what a crash during an append leaves behind: it is `torn` and the owner cuts it off. A bad
 * record with more data behind it cannot come from a crash during an append: it is `corrupt`.
 */
import { concatBytes } from '../bytes';
import { SyncError } from '../errors';
import type { ChangeBody, ClientChange } from '../model/changes';
import { jsonBytesWithChanges } from '../model/change-json';
import { crc32 } from './crc32';

/** First record of every journal file: the format and the highest clientSeq assigned so far. */
export interface HeadRecord {
  kind: 'head';
  format: 1;
  /**
   * Highest clientSeq assigned when the file was written (compaction keeps it, so seqs keep
   * increasing even when every change was acknowledged). New changes get higher seqs.
   */
  lastSeq: number;
  /**
   * False in a journal created afresh (no journal existed, or it was reset): its numbering is
   * not yet tied to what the relay has accepted from this device, and the first `anchor` record
   * moves it above that. Absent in journals written before anchoring existed: they have been
   * numbering continuously since their device's first change, so they count as anchored.
   */
  anchored?: boolean;
  /**
   * Identity of this journal: a new random id for every journal created afresh (or salvaged),
   * kept by compaction. A device's sync state remembers the id of the journal it queued into,
   * so a journal that was replaced (lost, reset, salvaged) is told apart from the same one
   * reopened. Absent in journals written before it existed.
   */
  journalId?: string;
}

/**
 * The outbox learned the highest clientSeq the relay accepted from this device (the welcome's
 * `lastClientSeq`) and moved its numbering above `after`: every queued change, in clientSeq
 * order, is renumbered `after + 1`, `after + 2`, ... and the counter continues from the last of
 * them. From this record on the outbox is anchored. Written only when something changes: an
 * outbox not yet anchored, or one whose counter was below the relay's (see OutboxState.planAnchor).
 */
export interface AnchorRecord {
  kind: 'anchor';
  after: number;
}

/**
 * Changes that became queued together (one group of an enqueue call, or the live set rewritten
 * by compaction). `drop` lists earlier clientSeqs these changes replaced (coalescing), so replay
 * needs no knowledge of the coalescing rules.
 */
export interface EnqueueRecord {
  kind: 'enqueue';
  changes: ClientChange[];
  drop: number[];
}

/** The relay acknowledged these clientSeqs: they leave the queue. */
export interface AckRecord {
  kind: 'ack';
  seqs: number[];
}

export type JournalRecord = HeadRecord | EnqueueRecord | AckRecord | AnchorRecord;

/** Bytes before the payload. */
export const RECORD_HEADER_BYTES = 12;
/** Largest payload the journal accepts; anything larger is refused on write and corrupt on read. */
export const MAX_RECORD_BYTES = 512 * 1024 * 1024;

/** Why decoding stopped early. `torn` defects are expected after a crash; `corrupt` ones are not. */
export type JournalDefectCode =
  | 'TRUNCATED_HEADER'
  | 'TRUNCATED_PAYLOAD'
  | 'ZERO_FILL'
  | 'TAIL_CHECKSUM'
  | 'HEADER_CHECKSUM'
  | 'RECORD_TOO_LARGE'
  | 'PAYLOAD_CHECKSUM'
  | 'BAD_PAYLOAD';

export interface JournalDefect {
  kind: 'torn' | 'corrupt';
  code: JournalDefectCode;
  /** Offset of the record that did not check out (equals `validEnd`). */
  offset: number;
  message: string;
}

export interface DecodedJournal {
  records: JournalRecord[];
  /** Framed size in bytes of each record, parallel to `records`. */
  sizes: number[];
  /** Offset just past the last good record: the length of the valid prefix. */
  validEnd: number;
  /** Null when every byte decoded. */
  defect: JournalDefect | null;
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * CRC-32 (IEEE) of a whole byte array. The pure `crc32` is the default; a Node adapter passes
 * zlib's native one (same values, many times faster), see core/node/outbox/native-crc32.ts.
 */
export type Checksum = (bytes: Uint8Array) => number;

const pureChecksum: Checksum = (bytes) => crc32(bytes);

/** One framed record as its two parts, written together (writev) without copying the payload. */
export interface FramedRecord {
  /** The RECORD_HEADER_BYTES bytes before the payload. */
  header: Uint8Array;
  payload: Uint8Array;
  /** header + payload bytes. */
  size: number;
}

/**
 * Frames one record as header and payload: the JSON text is encoded to UTF-8 once and never
 * copied. Throws OUTBOX_RECORD_TOO_LARGE past MAX_RECORD_BYTES.
 */
export function frameRecord(record: JournalRecord, checksum: Checksum = pureChecksum): FramedRecord {
  // An enqueue record's changes are serialised once, for the journal and the push (change-json.ts).
  const payload = record.kind === 'enqueue' ? jsonBytesWithChanges(record) : utf8Encoder.encode(JSON.stringify(record));
  if (payload.length > MAX_RECORD_BYTES) {
    throw new SyncError('OUTBOX_RECORD_TOO_LARGE', 'outbox record exceeds the size limit', {
      bytes: payload.length,
      limit: MAX_RECORD_BYTES,
    });
  }
  const header = new Uint8Array(RECORD_HEADER_BYTES);
  const view = new DataView(header.buffer);
  view.setUint32(0, payload.length, true);
  view.setUint32(4, checksum(header.subarray(0, 4)), true);
  view.setUint32(8, checksum(payload), true);
  return { header, payload, size: RECORD_HEADER_BYTES + payload.length };
}

/** Frames one record into one buffer. Throws OUTBOX_RECORD_TOO_LARGE past MAX_RECORD_BYTES. */
export function encodeRecord(record: JournalRecord, checksum: Checksum = pureChecksum): Uint8Array {
  const { header, payload, size } = frameRecord(record, checksum);
  const out = new Uint8Array(size);
  out.set(header, 0);
  out.set(payload, RECORD_HEADER_BYTES);
  return out;
}

/** Frames several records into one contiguous buffer (one write, one fsync). */
export function encodeRecords(records: readonly JournalRecord[], checksum: Checksum = pureChecksum): Uint8Array {
  return concatBytes(records.map((record) => encodeRecord(record, checksum)));
}

/** Decodes records from the start of `bytes` until the end or the first defect. */
export function decodeJournal(bytes: Uint8Array, checksum: Checksum = pureChecksum): DecodedJournal {
  const records: JournalRecord[] = [];
  const sizes: number[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const stop = (kind: JournalDefect['kind'], code: JournalDefectCode, message: string): DecodedJournal => ({
    records,
    sizes,
    validEnd: at,
    defect: { kind, code, offset: at, message },
  });
  while (at < bytes.length) {
    const remaining = bytes.length - at;
    if (isZeroFrom(bytes, at)) return stop('torn', 'ZERO_FILL', 'zero-filled tail');
    if (remaining < RECORD_HEADER_BYTES) return stop('torn', 'TRUNCATED_HEADER', 'record header cut short');
    const length = view.getUint32(at, true);
    if (view.getUint32(at + 4, true) !== checksum(bytes.subarray(at, at + 4))) {
      return stop('corrupt', 'HEADER_CHECKSUM', 'record length fails its check');
    }
    if (length === 0 || length > MAX_RECORD_BYTES) {
      return stop('corrupt', 'RECORD_TOO_LARGE', `record length ${length} out of range`);
    }
    const start = at + RECORD_HEADER_BYTES;
    const end = start + length;
    if (end > bytes.length) return stop('torn', 'TRUNCATED_PAYLOAD', 'record payload cut short');
    if (view.getUint32(at + 8, true) !== checksum(bytes.subarray(start, end))) {
      return end === bytes.length
        ? stop('torn', 'TAIL_CHECKSUM', 'last record fails its checksum')
        : stop('corrupt', 'PAYLOAD_CHECKSUM', 'record fails its checksum');
    }
    const record = parsePayload(bytes.subarray(start, end));
    if (record === null) return stop('corrupt', 'BAD_PAYLOAD', 'record payload is not a journal record');
    records.push(record);
    sizes.push(end - at);
    at = end;
  }
  return { records, sizes, validEnd: at, defect: null };
}

function isZeroFrom(bytes: Uint8Array, from: number): boolean {
  for (let i = from; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

function parsePayload(payload: Uint8Array): JournalRecord | null {
  let value: unknown;
  try {
    value = JSON.parse(utf8Decoder.decode(payload));
  } catch {
    return null;
  }
  return isJournalRecord(value) ? value : null;
}

/** Shape check of a decoded payload: the edge where disk data becomes typed. */
export function isJournalRecord(value: unknown): value is JournalRecord {
  if (!isObject(value)) return false;
  switch (value.kind) {
    case 'head':
      return (
        value.format === 1 &&
        isSeq(value.lastSeq, 0) &&
        (value.anchored === undefined || typeof value.anchored === 'boolean') &&
        (value.journalId === undefined || (typeof value.journalId === 'string' && value.journalId.length > 0 && value.journalId.length <= 200))
      );
    case 'anchor':
      return isSeq(value.after, 0);
    case 'enqueue':
      return (
        Array.isArray(value.changes) &&
        value.changes.every(isClientChange) &&
        Array.isArray(value.drop) &&
        value.drop.every((s) => isSeq(s, 1))
      );
    case 'ack':
      return Array.isArray(value.seqs) && value.seqs.every((s) => isSeq(s, 1));
    default:
      return false;
  }
}

/** Enough of a ClientChange to queue, coalesce and replay it (the relay validates bodies fully). */
export function isClientChange(value: unknown): value is ClientChange {
  if (!isObject(value)) return false;
  if (!isSeq(value.clientSeq, 1)) return false;
  if (value.baseSeq !== null && !isSeq(value.baseSeq, 0)) return false;
  return isChangeBodyShape(value.body);
}

function isChangeBodyShape(body: unknown): body is ChangeBody {
  if (!isObject(body)) return false;
  const str = (k: string) => typeof body[k] === 'string';
  switch (body.type) {
    case 'task.meta':
      return str('source') && str('taskId') && isObject(body.fields) && isObject(body.clocks);
    case 'task.delete':
      return str('source') && str('taskId') && str('clock');
    case 'stream.put':
      return str('source') && str('taskId') && str('stream') && str('key') && str('hash');
    case 'stream.truncate':
      return str('source') && str('taskId') && str('stream') && (body.afterKey === null || str('afterKey'));
    case 'file.put':
      return str('workspaceId') && str('path') && str('hash');
    case 'file.delete':
      return str('workspaceId') && str('path');
    default:
      return false;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isSeq(value: unknown, min: number): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= min;
}
