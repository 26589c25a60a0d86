/**
 * PUT /v1/blobs/:sha256 (upload, verified while streaming), GET and HEAD /v1/blobs/:sha256
 * (download with single byte ranges). Bearer auth; a blob belongs to the uploading user only,
 * and another user's hash answers exactly like an unknown one (404 BLOB_NOT_FOUND).
 */
import { SyncError } from '../../core/errors';
import { blobInfo, checkBlobHash, readBlobRange, storeBlob, tooLarge } from '../blobs/blob-repository';
import { parseByteRange } from '../blobs/byte-range';
import { authenticate } from './auth-routes';
import { sendJson } from './http-errors';
import type { HttpContext } from './http-context';
import { declaredLength } from './request-body';
import type { Router } from './router';

export function registerBlobRoutes(router: Router, ctx: HttpContext): void {
  router.add('PUT', '/v1/blobs/:sha256', async ({ req, res, params }) => {
    const device = await authenticate(ctx, req);
    const hash = params.sha256 ?? '';
    checkBlobHash(hash);
    const length = declaredLength(req);
    if (length !== undefined && length > ctx.config.http.maxBlobBytes) throw tooLarge(ctx.config.http.maxBlobBytes);
    if (req.headers['content-range']) {
      throw new SyncError('REQUEST_INVALID', 'partial uploads are not supported: send the whole blob');
    }
    const result = await storeBlob(ctx.db, device.userId, hash, req, { maxBytes: ctx.config.http.maxBlobBytes });
    sendJson(res, result.created ? 201 : 200, { hash, size: result.size, created: result.created });
  });

  router.add('GET', '/v1/blobs/:sha256', async ({ req, res, params }) => {
    const device = await authenticate(ctx, req);
    const hash = params.sha256 ?? '';
    checkBlobHash(hash);
    const info = await blobInfo(ctx.db, device.userId, hash);
    if (!info) throw new SyncError('BLOB_NOT_FOUND', 'no such blob');
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
