/**
 * The HTTP answer of every error: `{ error: { code, message } }` with a status chosen by the
 * SyncError code. Anything that is not a SyncError is an internal error: it is logged and
 * answered as 500 INTERNAL without its message (which may hold data).
 */
import type { ServerResponse } from 'node:http';
import { SyncError } from '../../core/errors';

/** Codes answered by the HTTP side, with their status. Unlisted SyncError codes are 400 unless their family says otherwise. */
export const HTTP_ERROR_STATUS: Readonly<Record<string, number>> = {
  BODY_INVALID_JSON: 400,
  REQUEST_INVALID: 400,
  EMAIL_INVALID: 400,
  PASSWORD_INVALID: 400,
  BLOB_HASH_INVALID: 400,
  BLOB_CHUNK_LENGTH_MISMATCH: 400,
  REQUEST_ABORTED: 400,
  AUTH_REQUIRED: 401,
  AUTH_TOKEN_INVALID: 401,
  AUTH_INVALID_CREDENTIALS: 401,
  AUTH_REFRESH_REUSED: 401,
  ADMIN_TOKEN_INVALID: 401,
  SIGNUP_DISABLED: 403,
  ADMIN_LOCAL_ONLY: 403,
  ORIGIN_REFUSED: 403,
  ROUTE_NOT_FOUND: 404,
  DEVICE_NOT_FOUND: 404,
  BLOB_NOT_FOUND: 404,
  USER_NOT_FOUND: 404,
  TASK_NOT_FOUND: 404,
  WEB_NOT_BUILT: 404,
  METHOD_NOT_ALLOWED: 405,
  USER_EXISTS: 409,
  BLOB_UPLOAD_OFFSET_MISMATCH: 409,
  BLOB_UPLOAD_LENGTH_MISMATCH: 409,
  HTTP_IDLE_TIMEOUT: 408,
  LENGTH_REQUIRED: 411,
  BODY_TOO_LARGE: 413,
  BLOB_TOO_LARGE: 413,
  CONTENT_TYPE_UNSUPPORTED: 415,
  RANGE_NOT_SATISFIABLE: 416,
  BLOB_HASH_MISMATCH: 422,
  UPGRADE_REQUIRED: 426,
  AUTH_RATE_LIMITED: 429,
  INTERNAL: 500,
  BLOB_CORRUPT: 500,
  DB_UNAVAILABLE: 503,
  DB_TIMEOUT: 503,
  DB_CLOSED: 503,
  SHUTTING_DOWN: 503,
  RELAY_STARTING: 503,
  PROJECTIONS_DISABLED: 503,
};

export function statusOf(error: SyncError): number {
  const known = HTTP_ERROR_STATUS[error.code];
  if (known) return known;
  if (error.code.startsWith('DB_') || error.code.startsWith('CACHE_')) return 500;
  return 400;
}

/** Writes a JSON body with the given status (no-op when the response already started). */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  // Encoded once: measuring the text (Buffer.byteLength) and then writing it walked a task's
  // messages twice (a backfill reads every task of the user).
  sendJsonText(res, status, JSON.stringify(body), headers);
}

/** Like sendJson for a body the caller already serialised (`json` must be one JSON value). */
export function sendJsonText(res: ServerResponse, status: number, json: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const bytes = Buffer.from(json, 'utf8');
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': bytes.length,
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(bytes);
}

/** Writes `{ error: { code, message } }`. Internal errors never expose their message. */
export function sendError(res: ServerResponse, error: SyncError, headers: Record<string, string> = {}): void {
  const status = statusOf(error);
  const message = status >= 500 && status !== 503 ? 'internal error' : error.message;
  const extra: Record<string, string> = { ...headers };
  const retry = error.details?.retryAfterSeconds;
  if (typeof retry === 'number') extra['retry-after'] = String(retry);
  sendJson(res, status, { error: { code: error.code, message } }, extra);
}

/** Normalises anything thrown into a SyncError (INTERNAL for non-SyncErrors). */
export function toSyncError(err: unknown): SyncError {
  return err instanceof SyncError ? err : new SyncError('INTERNAL', 'internal error');
}
