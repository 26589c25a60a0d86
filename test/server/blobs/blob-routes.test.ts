/**
 * PUT/GET/HEAD /v1/blobs/<sha256> through a real relay on PGlite: round trips (inline and
 * chunked), hash verification, ranges, size limits and per-user scoping.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import type { PgliteDatabase } from '../../../server/db/pglite-database';
import type { RelayServer } from '../../../server/relay-server';
import { openTestPglite, resetDatabase } from '../../support/pglite';
import { errorCode, signIn, startTestRelay, type SignedIn } from '../http/relay-fixture';

const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const MAX_BLOB = 3 * 1024 * 1024;

describe('blob endpoints', () => {
  let db: PgliteDatabase;
  let relay: RelayServer;
  let ann: SignedIn;

  before(async () => {
    db = await openTestPglite();
    relay = await startTestRelay(db, { maxBlobBytes: MAX_BLOB });
  });
  after(async () => {
    await relay?.close();
    await db?.close();
  });
  before(async () => {
    await resetDatabase(db);
    ann = await signIn(relay, 'ann@example.com');
  });
  const countBlobs = async (hash: string): Promise<number> =>
    (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM blobs WHERE hash = $1', [hash])).rows[0]!.n;

  const put = (token: string, hash: string, body: Uint8Array, headers: Record<string, string> = {}) =>
    fetch(`${relay.url}/v1/blobs/${hash}`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, ...headers }, body });
  const get = (token: string, hash: string, headers: Record<string, string> = {}) =>
    fetch(`${relay.url}/v1/blobs/${hash}`, { headers: { authorization: `Bearer ${token}`, ...headers } });

  describe('PUT then GET', () => {
    for (const [label, size] of [['an empty blob', 0], ['a small blob', 1000], ['a blob of several chunks', 2_500_001]] as const) {
      it(`round-trips ${label}`, async () => {
        const bytes = randomBytes(size);
        const hash = sha(bytes);
        const stored = await put(ann.accessToken, hash, bytes);
        assert.equal(stored.status, 201);
        assert.deepEqual(await stored.json(), { hash, size, created: true });
        const again = await put(ann.accessToken, hash, bytes);
        assert.equal(again.status, 200);
        assert.equal(((await again.json()) as { created: boolean }).created, false);
        const res = await get(ann.accessToken, hash);
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('etag'), `"${hash}"`);
        assert.equal(res.headers.get('accept-ranges'), 'bytes');
        const back = Buffer.from(await res.arrayBuffer());
        assert.equal(back.length, size);
        assert.equal(sha(back), hash);
        const head = await fetch(`${relay.url}/v1/blobs/${hash}`, { method: 'HEAD', headers: { authorization: `Bearer ${ann.accessToken}` } });
        assert.equal(head.status, 200);
        assert.equal(head.headers.get('content-length'), String(size));
      });
    }
  });

  describe('verification', () => {
    it('refuses content that does not match its hash with 422 BLOB_HASH_MISMATCH and keeps nothing', async () => {
      const bytes = randomBytes(1_200_000);
      const wrong = sha(Buffer.from('something else'));
      const res = await put(ann.accessToken, wrong, bytes);
      assert.equal(res.status, 422);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'BLOB_HASH_MISMATCH');
      assert.equal(await countBlobs(wrong), 0);
      assert.equal(await countBlobs(sha(bytes.subarray(0, 1024 * 1024))), 0, 'no chunk row either');
      assert.equal((await get(ann.accessToken, wrong)).status, 404);
    });

    it('refuses a malformed hash with 400 BLOB_HASH_INVALID', async () => {
      for (const hash of ['abc', 'A'.repeat(64), `${'0'.repeat(63)}g`]) {
        const res = await put(ann.accessToken, hash, Buffer.from('x'));
        assert.equal(res.status, 400);
        assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'BLOB_HASH_INVALID');
      }
    });

    it('requires a valid bearer token (401)', async () => {
      const bytes = Buffer.from('hello');
      const res = await fetch(`${relay.url}/v1/blobs/${sha(bytes)}`, { method: 'PUT', body: bytes });
      assert.equal(res.status, 401);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'AUTH_REQUIRED');
    });
  });

  describe('size limit', () => {
    it('refuses a declared oversize body with 413 before reading it', async () => {
      const declared = MAX_BLOB + 1;
      const result = await new Promise<{ status: number; body: string; sent: number }>((resolve, reject) => {
        const req = request(`${relay.url}/v1/blobs/${'a'.repeat(64)}`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${ann.accessToken}`, 'content-length': String(declared) },
        });
        let sent = 0;
        req.on('response', (res) => {
          let body = '';
          res.on('data', (d) => { body += d; });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body, sent }));
        });
        req.on('error', reject);
        // Send only the first bytes: the answer must come without the rest.
        const first = Buffer.alloc(1024);
        sent += first.length;
        req.write(first);
      });
      assert.equal(result.status, 413);
      assert.equal(JSON.parse(result.body).error.code, 'BLOB_TOO_LARGE');
      assert.ok(result.sent < declared);
    });

    it('refuses a streamed (chunked) body with 413 as soon as it passes the limit, and keeps nothing', async () => {
      const result = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(`${relay.url}/v1/blobs/${'b'.repeat(64)}`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${ann.accessToken}`, 'transfer-encoding': 'chunked' },
        });
        let answered = false;
        req.on('response', (res) => {
          answered = true;
          let body = '';
          res.on('data', (d) => { body += d; });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', (err) => { if (!answered) reject(err); });
        const piece = Buffer.alloc(256 * 1024);
        let written = 0;
        const pump = (): void => {
          while (!answered && written <= MAX_BLOB * 4) {
            written += piece.length;
            if (!req.write(piece)) {
              req.once('drain', pump);
              return;
            }
          }
        };
        pump();
      });
      assert.equal(result.status, 413);
      assert.equal(JSON.parse(result.body).error.code, 'BLOB_TOO_LARGE');
      assert.equal(await countBlobs('b'.repeat(64)), 0);
    });
  });

  describe('ranges', () => {
    let bytes: Buffer;
    let hash: string;
    before(async () => {
      bytes = randomBytes(2_200_000);
      hash = sha(bytes);
      assert.equal((await put(ann.accessToken, hash, bytes)).status, 201);
    });

    for (const [range, start, end] of [
      ['bytes=0-99', 0, 99],
      ['bytes=1048570-1048600', 1048570, 1048600],
      ['bytes=2000000-', 2000000, 2199999],
      ['bytes=-500', 2199500, 2199999],
      ['bytes=2199990-9999999', 2199990, 2199999],
    ] as const) {
      it(`serves ${range} as 206 with Content-Range`, async () => {
        const res = await get(ann.accessToken, hash, { range });
        assert.equal(res.status, 206);
        assert.equal(res.headers.get('content-range'), `bytes ${start}-${end}/${bytes.length}`);
        assert.deepEqual(Buffer.from(await res.arrayBuffer()), bytes.subarray(start, end + 1));
      });
    }

    it('answers a range past the end with 416 and Content-Range bytes */size', async () => {
      const res = await get(ann.accessToken, hash, { range: `bytes=${bytes.length}-` });
      assert.equal(res.status, 416);
      assert.equal(res.headers.get('content-range'), `bytes */${bytes.length}`);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'RANGE_NOT_SATISFIABLE');
    });

    it('serves the whole blob for a malformed or multi-part range', async () => {
      for (const range of ['bytes=5-1', 'bytes=0-1,5-6', 'items=0-1']) {
        const res = await get(ann.accessToken, hash, { range });
        assert.equal(res.status, 200, range);
        assert.equal((await res.arrayBuffer()).byteLength, bytes.length);
      }
    });
  });

  describe('scoping', () => {
    it("answers another user's blob exactly like an unknown one (404 BLOB_NOT_FOUND)", async () => {
      const bytes = randomBytes(5000);
      const hash = sha(bytes);
      await put(ann.accessToken, hash, bytes);
      const bob = await signIn(relay, 'bob@example.com');
      const foreign = await get(bob.accessToken, hash);
      const unknown = await get(bob.accessToken, sha(Buffer.from('never stored')));
      assert.equal(foreign.status, 404);
      const foreignBody = await foreign.json();
      assert.deepEqual(foreignBody, await unknown.json());
      assert.equal(errorCode({ status: 404, headers: foreign.headers, body: foreignBody }), 'BLOB_NOT_FOUND');
      assert.equal((await get(ann.accessToken, hash)).status, 200);
    });
  });
});
