/**
 * BlobStore over the relay's blob routes (docs/server.md "Blobs"): `HEAD/PUT/GET
 * /v1/blobs/<sha256>`, with the caller's bearer token.
 *
 * - put: a blob up to `chunkBytes` goes in one PUT; a larger one as a resumable upload, in
 *   chunks with `Content-Range`, starting from the offset the relay holds (HEAD), so an upload
 *   cut off by a lost connection or a restart continues where it stopped. A failed chunk is
 *   retried from the offset the relay reports, up to `attempts` times without progress.
 * - get: streamed; a download cut off continues with `Range` from the bytes received; the
 *   sha256 is computed while the bytes arrive and checked before they are returned
 *   (BLOB_HASH_MISMATCH otherwise: corrupt bytes never reach the caller).
 * - A 401 (token expired meanwhile) renews the token once through `getToken(true)`.
 */
import { createHash } from 'node:crypto';
import { concatBytes } from '../../bytes';
import { SyncError, isSyncError } from '../../errors';
import { sha256Hex, SHA256_HEX } from '../../model/hash';
import type { BlobStore } from '../../ports/blob-store';
import { RelayHttp, type RelayHttpOptions } from '../../client/relay-http';

export interface HttpBlobStoreOptions extends RelayHttpOptions {
  serverUrl: string;
  /** The access token; `renew` asks for a fresh one after a 401. */
  getToken(renew?: boolean): Promise<string>;
  /** Largest blob sent in one PUT, and the chunk size above it. Default 8 MiB. */
  chunkBytes?: number;
  /** Tries without progress before a put or get gives up. Default 4. */
  attempts?: number;
}

export class HttpBlobStore implements BlobStore {
  private readonly http: RelayHttp;
  private readonly chunkBytes: number;
  private readonly attempts: number;

  constructor(private readonly options: HttpBlobStoreOptions) {
    this.http = new RelayHttp(options.serverUrl, options);
    this.chunkBytes = options.chunkBytes ?? 8 * 1024 * 1024;
    this.attempts = options.attempts ?? 4;
  }

  async has(hash: string): Promise<boolean> {
    checkHash(hash);
    const res = await this.authed(`/v1/blobs/${hash}`, { method: 'HEAD', okStatuses: [404] });
    return res.status === 200;
  }

  async put(hash: string, bytes: Uint8Array): Promise<void> {
    checkHash(hash);
    if (sha256Hex(bytes) !== hash) throw new SyncError('BLOB_HASH_MISMATCH', 'blob content does not match its hash', { hash });
    if (bytes.length <= this.chunkBytes) {
      await this.retrying(() => this.authed(`/v1/blobs/${hash}`, { method: 'PUT', body: bytes, headers: { 'content-type': 'application/octet-stream' } }));
      return;
    }
    await this.resumableUpload(hash, bytes);
  }

  async get(hash: string): Promise<Uint8Array | null> {
    checkHash(hash);
    const parts: Uint8Array[] = [];
    const digest = createHash('sha256');
    let received = 0;
    let total: number | null = null;
    let failures = 0;
    while (total === null || received < total) {
      try {
        const headers: Record<string, string> = received > 0 ? { range: `bytes=${received}-` } : {};
        const res = await this.authed(`/v1/blobs/${hash}`, { method: 'GET', headers, okStatuses: [404] });
        if (res.status === 404) return null;
        total ??= totalOf(res, received);
        if (!res.body) break;
        const reader = res.body.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          parts.push(value);
          digest.update(value);
          received += value.length;
          failures = 0;
        }
        if (total === null) break;
      } catch (err) {
        if (!isRetryable(err) || ++failures >= this.attempts) throw err;
      }
    }
    if (digest.digest('hex') !== hash) {
      throw new SyncError('BLOB_HASH_MISMATCH', 'the relay sent bytes that do not match the blob hash', { hash, received });
    }
    return concatBytes(parts, received);
  }

  /** Sends the bytes the relay lacks, chunk by chunk, from the offset it holds. */
  private async resumableUpload(hash: string, bytes: Uint8Array): Promise<void> {
    let failures = 0;
    let offset = await this.heldOffset(hash, bytes.length);
    while (offset !== 'stored') {
      const end = Math.min(bytes.length, offset + this.chunkBytes);
      try {
        const res = await this.authed(`/v1/blobs/${hash}`, {
          method: 'PUT',
          body: bytes.subarray(offset, end),
          headers: { 'content-type': 'application/octet-stream', 'content-range': `bytes ${offset}-${end - 1}/${bytes.length}` },
        });
        if (res.status === 200 || res.status === 201) return;
        offset = Number(res.headers.get('upload-offset') ?? end);
        failures = 0;
      } catch (err) {
        const mismatch = isSyncError(err, 'BLOB_UPLOAD_OFFSET_MISMATCH') || isSyncError(err, 'BLOB_UPLOAD_LENGTH_MISMATCH');
        if (!mismatch && !isRetryable(err)) throw err;
        if (++failures >= this.attempts) throw err;
        offset = await this.heldOffset(hash, bytes.length);
      }
    }
  }

  /** Where an upload of `hash` stands on the relay: stored, or the offset to send from. */
  private async heldOffset(hash: string, total: number): Promise<number | 'stored'> {
    const res = await this.retrying(() => this.authed(`/v1/blobs/${hash}`, { method: 'HEAD', okStatuses: [404] }));
    if (res.status === 200) return 'stored';
    const offset = res.headers.get('upload-offset');
    const length = res.headers.get('upload-length');
    if (offset === null || Number(length) !== total) return 0;
    const held = Number(offset);
    return Number.isSafeInteger(held) && held >= 0 && held <= total ? held : 0;
  }

  /** A request with the bearer token; after a 401 the token is renewed and the request sent once more. */
  private async authed(path: string, init: RequestInit & { okStatuses?: readonly number[] }): Promise<Response> {
    try {
      return await this.http.request(path, { ...init, accessToken: await this.options.getToken() });
    } catch (err) {
      if (!isSyncError(err, 'AUTH_TOKEN_INVALID')) throw err;
      return this.http.request(path, { ...init, accessToken: await this.options.getToken(true) });
    }
  }

  private async retrying<T>(call: () => Promise<T>): Promise<T> {
    for (let failures = 1; ; failures++) {
      try {
        return await call();
      } catch (err) {
        if (!isRetryable(err) || failures >= this.attempts) throw err;
      }
    }
  }
}

function checkHash(hash: string): void {
  if (!SHA256_HEX.test(hash)) throw new SyncError('BLOB_HASH_INVALID', 'a blob hash is 64 lowercase hex characters', { hash });
}

/** The whole blob's size from a 200 (Content-Length) or 206 (Content-Range) answer; null when unknown. */
function totalOf(res: Response, received: number): number | null {
  const range = res.headers.get('content-range');
  const match = range ? /\/(\d+)$/.exec(range) : null;
  if (match) return Number(match[1]);
  const length = res.headers.get('content-length');
  return length === null ? null : received + Number(length);
}

/** A network failure (the request or the body stream broke), not an answer of the relay. */
function isRetryable(err: unknown): boolean {
  if (isSyncError(err)) return err.code === 'RELAY_UNREACHABLE';
  return err instanceof Error && (err.name === 'TypeError' || err.name === 'AbortError' || err.name === 'TimeoutError' || 'code' in err);
}

