/**
 * PUT /v1/blobs/:sha256 (upload, verified while streaming; with Content-Range one chunk of a
 * resumable upload), GET and HEAD /v1/blobs/:sha256 (download with single byte ranges; for a
 * blob being uploaded in chunks, 404 with `Upload-Offset`). Bearer auth; a blob and a pending
 * upload belong to the uploading user only, and another user's hash answers exactly like an
 * unknown one (404 BLOB_NOT_FOUND, no upload headers).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SyncError, isSyncError } from '../../core/errors';
import { blobInfo, checkBlobHash, readBlobRange, storeBlob, tooLarge } from '../blobs/blob-repository';
import { appendChunk, parseContentRange, pendingUpload } from '../blobs/blob-uploads';
import { parseByteRange } from '../blobs/byte-range';
import { authenticate } from './auth-routes';
import { sendJson } from './http-errors';
import type { HttpContext } from './http-context';
import { declaredLength, requestBody } from './request-body';
import type { Router } from './router';

export function registerBlobRoutes(router: Router, ctx: HttpContext): void {
  router.add('PUT', '/v1/blobs/:sha256', async ({ req, res, params }) => {
    const device = await authenticate(ctx, req);
    const hash = params.sha256 ?? '';
    checkBlobHash(hash);
    const contentRange = req.headers['content-range'];
    if (contentRange !== undefined) {
      await putChunk(ctx, req, res, device.userId, hash, contentRange);
      return;
    }
    const length = declaredLength(req);
    if (length !== undefined && length > ctx.config.http.maxBlobBytes) throw tooLarge(ctx.config.http.maxBlobBytes);
    const result = await storeBlob(ctx.db, device.userId, hash, requestBody(req), { maxBytes: ctx.config.http.maxBlobBytes });
    sendJson(res, result.created ? 201 : 200, { hash, size: result.size, created: result.created });
  });

  router.add('GET', '/v1/blobs/:sha256', async ({ req, res, params }) => {
    const device = await authenticate(ctx, req);
    const hash = params.sha256 ?? '';
    checkBlobHash(hash);
    const info = await blobInfo(ctx.db, device.userId, hash);
    if (!info) {
      const pending = await pendingUpload(ctx.db, device.userId, hash);
      if (pending) setUploadHeaders(res, pending.received, pending.total);
      throw new SyncError('BLOB_NOT_FOUND', 'no such blob');
    }
    const headers: Record<string, string | number> = {
      'content-type': 'application/octet-stream',
      'accept-ranges': 'bytes',
      etag: `"${hash}"`,
      'cache-control': 'private, max-age=31536000, immutable',
    };
    let start = 0;
    let end = info.size - 1;
    let status = 200;
    const ifRange = req.headers['if-range'];
    const range = ifRange && ifRange !== `"${hash}"` ? { kind: 'none' as const } : parseByteRange(req.headers.range, info.size);
    if (range.kind === 'unsatisfiable') {
      throw new SyncError('RANGE_NOT_SATISFIABLE', 'the range lies outside the blob', { size: info.size });
    }
    if (range.kind === 'range') {
      ({ start, end } = range);
      status = 206;
      headers['content-range'] = `bytes ${start}-${end}/${info.size}`;
    }
    headers['content-length'] = Math.max(0, end - start + 1);
    res.writeHead(status, headers);
    if (req.method === 'HEAD' || info.size === 0) {
      res.end();
      return;
    }
    for await (const piece of readBlobRange(ctx.db, device.userId, info, start, end)) {
      if (res.destroyed) return;
      if (!res.write(piece)) await new Promise<void>((resolve) => { res.once('drain', resolve); res.once('close', resolve); });
    }
    res.end();
  });
}

/**
 * One chunk of a resumable upload: 202 with the new `Upload-Offset` while bytes are missing,
 * 201 (or 200 when already stored) like a whole PUT once the last chunk verified the blob.
 * Refusals that concern the offset carry the true `Upload-Offset` (and `Upload-Length`).
 */
async function putChunk(ctx: HttpContext, req: IncomingMessage, res: ServerResponse, userId: string, hash: string, header: string): Promise<void> {
  const max = ctx.config.http.maxBlobBytes;
  const range = parseContentRange(header);
  if (range.total > max) throw tooLarge(max);
  const length = declaredLength(req);
  if (length !== undefined && length !== range.end - range.start + 1) {
    throw new SyncError('BLOB_CHUNK_LENGTH_MISMATCH', 'Content-Length differs from the length its Content-Range names');
  }
  let result;
  try {
    result = await appendChunk(ctx.db, userId, hash, range, requestBody(req), { maxBytes: max, ttlSeconds: ctx.config.http.blobUploadTtlSeconds });
  } catch (err) {
    if (isSyncError(err) && typeof err.details?.offset === 'number') {
      setUploadHeaders(res, err.details.offset, typeof err.details.total === 'number' ? err.details.total : undefined);
    }
    throw err;
  }
  if (result.kind === 'partial') {
    setUploadHeaders(res, result.received, result.total);
    sendJson(res, 202, { hash, offset: result.received, size: result.total, complete: false });
    return;
  }
  sendJson(res, result.created ? 201 : 200, { hash, size: result.size, created: result.created });
}

function setUploadHeaders(res: ServerResponse, offset: number, total: number | undefined): void {
  if (res.headersSent) return;
  res.setHeader('upload-offset', String(offset));
  if (total !== undefined) res.setHeader('upload-length', String(total));
}

