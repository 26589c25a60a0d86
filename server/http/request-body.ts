/**
 * Reads a JSON request body under a byte limit. A declared Content-Length over the limit is
 * refused before a byte is read; a body without one is counted as it streams and refused
 * (BODY_TOO_LARGE) the moment it passes the limit, so an oversize body is never buffered whole.
 * A client that goes away mid-body is REQUEST_ABORTED, not an internal error.
 */
import type { IncomingMessage } from 'node:http';
import { SyncError } from '../../core/errors';

/** The declared Content-Length, or undefined; REQUEST_INVALID when it is not a number. */
export function declaredLength(req: IncomingMessage): number | undefined {
  const header = req.headers['content-length'];
  if (header === undefined) return undefined;
  if (!/^\d+$/.test(header)) throw new SyncError('REQUEST_INVALID', 'Content-Length is not a number');
  return Number(header);
}

/**
 * The request body; a client that goes away before sending it all is REQUEST_ABORTED (a
 * coded error for metrics and logs, not an internal one: nobody is there to answer).
 */
export async function* requestBody(req: IncomingMessage): AsyncGenerator<Uint8Array> {
  // Not closed when the reader stops early: destroying the request would take the socket and
  // the error answer with it. The rest stays unread and the connection closes after the answer.
  const iterator = req[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
  for (;;) {
    let next: IteratorResult<Uint8Array>;
    try {
      next = await iterator.next();
    } catch (err) {
      throw new SyncError('REQUEST_ABORTED', 'the client closed the connection before the body arrived', undefined, { cause: err });
    }
    if (next.done) return;
    yield next.value;
  }
}

/** Parses the body as JSON (an empty body is `{}`); BODY_TOO_LARGE, BODY_INVALID_JSON, CONTENT_TYPE_UNSUPPORTED, REQUEST_ABORTED. */
export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  const type = req.headers['content-type'];
  if (type !== undefined && !/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type)) {
    throw new SyncError('CONTENT_TYPE_UNSUPPORTED', 'the body must be application/json');
  }
  const length = declaredLength(req);
  if (length !== undefined && length > maxBytes) throw bodyTooLarge(maxBytes);
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of requestBody(req)) {
    size += part.length;
    if (size > maxBytes) throw bodyTooLarge(maxBytes);
    parts.push(part as Buffer);
  }
  if (size === 0) return {};
  try {
    return JSON.parse(Buffer.concat(parts).toString('utf8')) as unknown;
  } catch {
    throw new SyncError('BODY_INVALID_JSON', 'the body is not valid JSON');
  }
}

export function bodyTooLarge(maxBytes: number): SyncError {
  return new SyncError('BODY_TOO_LARGE', `the body is larger than ${maxBytes} bytes`, { maxBytes });
}

/** Field readers for a parsed body: each throws REQUEST_INVALID naming the field. */
export class BodyFields {
  private readonly record: Record<string, unknown>;

  constructor(body: unknown) {
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new SyncError('REQUEST_INVALID', 'the body must be a JSON object');
    this.record = body as Record<string, unknown>;
  }

  /** A required string of 1..maxLength characters. */
  string(name: string, maxLength = 1024): string {
    const value = this.record[name];
    if (typeof value !== 'string' || value.length === 0 || value.length > maxLength) {
      throw new SyncError('REQUEST_INVALID', `${name} must be a string of 1 to ${maxLength} characters`, { field: name });
    }
    return value;
  }

  /** An optional string (absent or null -> undefined). */
  optionalString(name: string, maxLength = 1024): string | undefined {
    const value = this.record[name];
    if (value === undefined || value === null) return undefined;
    return this.string(name, maxLength);
  }

  /** An optional nested object's fields. */
  optionalObject(name: string): BodyFields | undefined {
    const value = this.record[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'object' || Array.isArray(value)) throw new SyncError('REQUEST_INVALID', `${name} must be an object`, { field: name });
    return new BodyFields(value);
  }
}
