/**
 * Resumable blob uploads: `PUT /v1/blobs/<sha256>` with `Content-Range: bytes a-b/total`
 * appends one chunk to the caller's pending upload of that blob (`blob_uploads`, migration
 * 0004). The pending upload lives in the database, not on a relay's disk, because the next
 * chunk may reach another relay process behind the load balancer.
 *
 * Bytes are kept in CHUNK_BYTES-aligned pieces (`blob_upload_pieces`), the same layout as a
 * stored blob, so completing the upload turns the pieces into the blob's piece rows with one
 * INSERT ... SELECT and no byte passes through the relay again.
 *
 * Every write locks the upload row and checks that it starts exactly at `received`, so the
 * offset a client is told is always the number of bytes really held, whatever the order in
 * which concurrent or abandoned requests reach the database. A request is streamed into
 * writes of at most one piece each, committed as they fill; when the client drops mid-chunk,
 * the bytes that did arrive are committed too, so a resumed upload loses at most nothing.
 * Nothing is stored as a blob until the whole content hashes to its name; a mismatch discards
 * the pending upload.
 */
import { createHash } from 'node:crypto';
import { SyncError } from '../../core/errors';
import { SHA256_HEX } from '../../core/model/hash';
import type { Database, Queryable } from '../db/database';
import { CHUNK_BYTES, blobInfo, checkBlobHash, piecesStorageKey, tooLarge } from './blob-repository';

/** One chunk's place in the blob: bytes `start..end` (inclusive) of `total`. */
export interface ContentRange {
  start: number;
  end: number;
  total: number;
}

/** A pending upload as its owner sees it. */
export interface PendingUpload {
  hash: string;
  /** The blob's whole size, as the first chunk declared it. */
  total: number;
  /** Bytes held so far: the next chunk starts here. */
  received: number;
  expiresAt: Date;
}

export interface AppendChunkOptions {
  /** Most bytes a blob may hold (RelayConfig.http.maxBlobBytes). */
  maxBytes: number;
  /** A pending upload without a chunk for this long is discarded (RelayConfig.http.blobUploadTtlSeconds). */
  ttlSeconds: number;
}

export type AppendChunkResult =
  | { kind: 'partial'; received: number; total: number }
  | { kind: 'complete'; created: boolean; size: number };

/**
 * Parses `Content-Range: bytes a-b/total` (RFC 9110 §14.4) of a chunk upload. REQUEST_INVALID
 * for any other form (`bytes *​/total`, a missing total, b < a, b >= total).
 */
export function parseContentRange(header: string): ContentRange {
  const match = /^\s*bytes\s+(\d{1,15})-(\d{1,15})\/(\d{1,15})\s*$/i.exec(header);
  const invalid = (): SyncError =>
    new SyncError('REQUEST_INVALID', 'Content-Range must be "bytes <first>-<last>/<total>" with first <= last < total', { field: 'content-range' });
  if (!match) throw invalid();
  const start = Number(match[1]);
  const end = Number(match[2]);
  const total = Number(match[3]);
  if (end < start || end >= total) throw invalid();
  return { start, end, total };
}

/** The user's pending, unexpired upload of `hash`, or null (also for another user's upload). */
export async function pendingUpload(db: Queryable, userId: string, hash: string): Promise<PendingUpload | null> {
  if (!SHA256_HEX.test(hash)) return null;
  const { rows } = await db.query<{ total_size: number; received: number; expires_at: Date }>(
    'SELECT total_size, received, expires_at FROM blob_uploads WHERE user_id = $1 AND hash = $2 AND expires_at > now()',
    [userId, hash],
  );
  const row = rows[0];
  return row ? { hash, total: Number(row.total_size), received: Number(row.received), expiresAt: row.expires_at } : null;
}

/**
 * Appends the chunk `range` read from `body` to the user's pending upload of `hash`, creating
 * it when the chunk starts at 0. When the chunk completes the upload, the content is verified
 * and stored as a blob (`kind: 'complete'`). Already stored blobs answer `created: false`
 * without reading the body.
 *
 * Errors (their `details.offset` is the bytes held, which the caller reports):
 * BLOB_UPLOAD_OFFSET_MISMATCH (the chunk does not start at the held offset),
 * BLOB_UPLOAD_LENGTH_MISMATCH (another total than the pending upload's), BLOB_CHUNK_LENGTH_MISMATCH
 * (the body is shorter or longer than its range; what arrived within the range is kept),
 * BLOB_HASH_MISMATCH (the completed content is not `hash`'s: the upload is discarded),
 * BLOB_TOO_LARGE (total over `maxBytes`, refused before a byte is read). An error of `body`
 * itself (the client went away) is rethrown after the bytes that arrived are kept.
 */
export async function appendChunk(
  db: Database,
  userId: string,
  hash: string,
  range: ContentRange,
  body: AsyncIterable<Uint8Array>,
  options: AppendChunkOptions,
): Promise<AppendChunkResult> {
  checkBlobHash(hash);
  if (range.total > options.maxBytes) throw tooLarge(options.maxBytes);
  const stored = await blobInfo(db, userId, hash);
  if (stored) return { kind: 'complete', created: false, size: stored.size };
  await openUpload(db, userId, hash, range, options.ttlSeconds);

  const chunkLength = range.end - range.start + 1;
  let offset = range.start;
  let seen = 0;
  let buffered: Buffer[] = [];
  let bufferedBytes = 0;
  const flush = async (): Promise<void> => {
    if (bufferedBytes === 0) return;
    const data = buffered.length === 1 ? buffered[0]! : Buffer.concat(buffered, bufferedBytes);
    buffered = [];
    bufferedBytes = 0;
    offset = await writeAt(db, userId, hash, offset, data, options.ttlSeconds);
  };

  const iterator = body[Symbol.asyncIterator]();
  try {
    for (;;) {
      let next: IteratorResult<Uint8Array>;
      try {
        next = await iterator.next();
      } catch (err) {
        // The client went away mid-chunk: what arrived is intact (TCP), keep it.
        await flush();
        throw err;
      }
      if (next.done) break;
      let data = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
      const overflow = seen + data.length > chunkLength;
      if (overflow) data = data.subarray(0, chunkLength - seen);
      seen += data.length;
      while (data.length > 0) {
        const position = offset + bufferedBytes;
        const take = Math.min(data.length, (Math.floor(position / CHUNK_BYTES) + 1) * CHUNK_BYTES - position);
        buffered.push(data.subarray(0, take));
        bufferedBytes += take;
        data = data.subarray(take);
        // A write covers one piece at most: flush when the piece is full.
        if ((position + take) % CHUNK_BYTES === 0) await flush();
      }
      if (overflow) {
        await flush();
        throw chunkLengthMismatch(chunkLength, offset);
      }
    }
    await flush();
  } finally {
    await iterator.return?.();
  }
  if (seen < chunkLength) throw chunkLengthMismatch(chunkLength, offset);
  if (offset < range.total) return { kind: 'partial', received: offset, total: range.total };
  return { kind: 'complete', ...(await completeUpload(db, userId, hash, range.total)) };
}

/** Deletes every pending upload past its expiry; returns how many (the retention job). */
export async function purgeExpiredUploads(db: Queryable): Promise<number> {
  const { rowCount } = await db.query('DELETE FROM blob_uploads WHERE expires_at <= now()');
  return rowCount;
}

/**
 * Starts or checks the pending upload for a chunk at `range.start`. A chunk at 0 with another
 * total than the pending upload's starts it over (the earlier total cannot have been right
 * for this hash and this total both); anything else must continue at `received`.
 */
async function openUpload(db: Database, userId: string, hash: string, range: ContentRange, ttlSeconds: number): Promise<void> {
  await db.query('DELETE FROM blob_uploads WHERE user_id = $1 AND hash = $2 AND expires_at <= now()', [userId, hash]);
  await db.transaction(async (tx) => {
    const { rows } = await tx.query<{ total_size: number; received: number }>(
      'SELECT total_size, received FROM blob_uploads WHERE user_id = $1 AND hash = $2 FOR UPDATE',
      [userId, hash],
    );
    const row = rows[0];
    if (row && Number(row.total_size) !== range.total && range.start === 0) {
      await tx.query('DELETE FROM blob_uploads WHERE user_id = $1 AND hash = $2', [userId, hash]);
    } else if (row) {
      const total = Number(row.total_size);
      const received = Number(row.received);
      if (total !== range.total) {
        throw new SyncError('BLOB_UPLOAD_LENGTH_MISMATCH', `the pending upload of this blob has ${total} bytes in all`, { offset: received, total });
      }
      if (received !== range.start) throw offsetMismatch(received, total);
      return;
    }
    if (range.start !== 0) throw offsetMismatch(0, range.total);
    await tx.query(
      `INSERT INTO blob_uploads (user_id, hash, total_size, expires_at)
       VALUES ($1, $2, $3, now() + make_interval(secs => $4))`,
      [userId, hash, range.total, ttlSeconds],
    );
  });
}

/**
 * Appends `data` (within one piece) at `offset`, if the upload still holds exactly `offset`
 * bytes; returns the new offset. BLOB_UPLOAD_OFFSET_MISMATCH otherwise (another request
 * wrote first, or the upload expired or was discarded meanwhile).
 */
async function writeAt(db: Database, userId: string, hash: string, offset: number, data: Buffer, ttlSeconds: number): Promise<number> {
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<{ total_size: number; received: number }>(
      'SELECT total_size, received FROM blob_uploads WHERE user_id = $1 AND hash = $2 AND expires_at > now() FOR UPDATE',
      [userId, hash],
    );
    const row = rows[0];
    if (!row) throw offsetMismatch(0, undefined);
    const received = Number(row.received);
    const total = Number(row.total_size);
    if (received !== offset || offset + data.length > total) throw offsetMismatch(received, total);
    // Hex text decoded by the server, as in blob-repository.ts (PGlite is far slower with bytea parameters).
    await tx.query(
      `INSERT INTO blob_upload_pieces (user_id, hash, piece, content) VALUES ($1, $2, $3, decode($4, 'hex'))
       ON CONFLICT (user_id, hash, piece) DO UPDATE SET content = blob_upload_pieces.content || EXCLUDED.content`,
      [userId, hash, Math.floor(offset / CHUNK_BYTES), data.toString('hex')],
    );
    await tx.query(
      `UPDATE blob_uploads SET received = received + $3, updated_at = now(), expires_at = now() + make_interval(secs => $4)
        WHERE user_id = $1 AND hash = $2`,
      [userId, hash, data.length, ttlSeconds],
    );
    return offset + data.length;
  });
}

/**
 * Verifies the complete upload by reading its pieces back in order (what is checked is what
 * is stored) and moves them into `blobs`. BLOB_HASH_MISMATCH discards the upload.
 */
async function completeUpload(db: Database, userId: string, hash: string, total: number): Promise<{ created: boolean; size: number }> {
  const whole = createHash('sha256');
  const pieceHashes: string[] = [];
  const pieces = Math.ceil(total / CHUNK_BYTES);
  for (let piece = 0; piece < pieces; piece++) {
    // Read as hex text, like blob-repository.ts: PGlite returns bytea about 10x slower (measured: 950 against 90 ms per MiB).
    const { rows } = await db.query<{ content: string }>(
      `SELECT encode(content, 'hex') AS content FROM blob_upload_pieces WHERE user_id = $1 AND hash = $2 AND piece = $3`,
      [userId, hash, piece],
    );
    const content = rows[0] ? Buffer.from(rows[0].content, 'hex') : undefined;
    const expected = Math.min(CHUNK_BYTES, total - piece * CHUNK_BYTES);
    if (!content || content.byteLength !== expected) {
      // Another request completed (and moved) or discarded this upload meanwhile.
      const stored = await blobInfo(db, userId, hash);
      if (stored) return { created: false, size: stored.size };
      throw await changedMeanwhile(db, userId, hash);
    }
    whole.update(content);
    pieceHashes.push(createHash('sha256').update(content).digest('hex'));
  }
  const digest = whole.digest('hex');
  if (digest !== hash) {
    await db.query('DELETE FROM blob_uploads WHERE user_id = $1 AND hash = $2 AND total_size = $3 AND received = total_size', [userId, hash, total]);
    throw new SyncError('BLOB_HASH_MISMATCH', 'the content does not match its sha256; the upload was discarded', { expected: hash, actual: digest });
  }
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<{ received: number }>(
      'SELECT received FROM blob_uploads WHERE user_id = $1 AND hash = $2 AND total_size = $3 FOR UPDATE',
      [userId, hash, total],
    );
    const exists = await tx.query('SELECT 1 FROM blobs WHERE user_id = $1 AND hash = $2', [userId, hash]);
    if (exists.rowCount > 0 || rows.length === 0 || Number(rows[0]!.received) !== total) {
      await tx.query('DELETE FROM blob_uploads WHERE user_id = $1 AND hash = $2 AND total_size = $3 AND received = total_size', [userId, hash, total]);
      if (exists.rowCount > 0) return { created: false, size: total };
      throw await changedMeanwhile(tx, userId, hash);
    }
    if (pieces === 1) {
      await tx.query(
        `INSERT INTO blobs (user_id, hash, size, content)
         SELECT user_id, hash, $3, content FROM blob_upload_pieces WHERE user_id = $1 AND hash = $2 AND piece = 0`,
        [userId, hash, total],
      );
    } else {
      await tx.query(
        `INSERT INTO blobs (user_id, hash, size, content)
         SELECT DISTINCT ON (h.piece_hash) p.user_id, h.piece_hash, octet_length(p.content), p.content
           FROM unnest($3::text[]) WITH ORDINALITY AS h (piece_hash, n)
           JOIN blob_upload_pieces p ON p.user_id = $1 AND p.hash = $2 AND p.piece = h.n - 1
         ON CONFLICT (user_id, hash) DO NOTHING`,
        [userId, hash, pieceHashes],
      );
      await tx.query('INSERT INTO blobs (user_id, hash, size, storage_key) VALUES ($1, $2, $3, $4)', [
        userId, hash, total, piecesStorageKey(pieceHashes),
      ]);
    }
    await tx.query('DELETE FROM blob_uploads WHERE user_id = $1 AND hash = $2', [userId, hash]);
    return { created: true, size: total };
  });
}

/** Another request restarted or discarded the upload while this one completed it: report the true offset. */
async function changedMeanwhile(db: Queryable, userId: string, hash: string): Promise<SyncError> {
  const pending = await pendingUpload(db, userId, hash);
  return offsetMismatch(pending?.received ?? 0, pending?.total);
}

function offsetMismatch(offset: number, total: number | undefined): SyncError {
  return new SyncError('BLOB_UPLOAD_OFFSET_MISMATCH', `the upload holds ${offset} bytes: send the chunk that starts there`, {
    offset,
    ...(total === undefined ? {} : { total }),
  });
}

function chunkLengthMismatch(chunkLength: number, offset: number): SyncError {
  return new SyncError('BLOB_CHUNK_LENGTH_MISMATCH', `the body must hold exactly the ${chunkLength} bytes its Content-Range names`, { offset });
}
