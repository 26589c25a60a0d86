/**
 * Resumable blob uploads (PUT /v1/blobs/<sha256> with Content-Range, HEAD for the offset)
 * through a real relay, run on PGlite (blob-uploads.pglite.test.ts) and on PostgreSQL + Redis
 * (blob-uploads.postgres.test.ts): chunked uploads, resuming after a dropped connection,
 * offset and length checks, verification, size limit, per-user scoping, expiry and account
 * deletion.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { scheduleCompaction } from '../../../server/accounts/retention';
import { purgeExpiredUploads } from '../../../server/blobs/blob-uploads';
import type { Database } from '../../../server/db/database';
import { waitFor } from '../../support/redis';
import { PASSWORD, api, signIn, useSuiteRelay, type SignedIn } from '../http/relay-fixture';

export interface BlobUploadSuiteSetup {
  db(): Database;
  flags(): Record<string, unknown>;
}

const MIB = 1024 * 1024;
const MAX_BLOB = 5 * MIB;
const TTL_SECONDS = 3600;
const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

export function blobUploadSuite(setup: BlobUploadSuiteSetup): void {
  const relay = useSuiteRelay(setup, { maxBlobBytes: MAX_BLOB, blobUploadTtlSeconds: TTL_SECONDS });
  let ann: SignedIn;

  beforeEach(async () => {
    ann = await signIn(relay(), 'ann@example.com');
  });

  const count = async (sql: string, params: unknown[] = []): Promise<number> =>
    (await setup.db().query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sql}`, params)).rows[0]!.n;

  /** PUT bytes `start..start+chunk.length-1` of `total` as one chunk. */
  async function putChunk(token: string, hash: string, chunk: Uint8Array, start: number, total: number): Promise<Answer> {
    const res = await fetch(`${relay().url}/v1/blobs/${hash}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-range': `bytes ${start}-${start + chunk.length - 1}/${total}` },
      body: chunk,
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
  }

  /** HEAD: the status and, for a pending upload, its offset and length. */
  async function head(token: string, hash: string): Promise<{ status: number; offset: number | null; length: number | null }> {
    const res = await fetch(`${relay().url}/v1/blobs/${hash}`, { method: 'HEAD', headers: { authorization: `Bearer ${token}` } });
    const offset = res.headers.get('upload-offset');
    const length = res.headers.get('upload-length');
    return { status: res.status, offset: offset === null ? null : Number(offset), length: length === null ? null : Number(length) };
  }

  async function download(token: string, hash: string): Promise<Buffer> {
    const res = await fetch(`${relay().url}/v1/blobs/${hash}`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    return Buffer.from(await res.arrayBuffer());
  }

  /** What a client does to finish an interrupted upload: ask the offset, send the rest, repeat on 409. */
  async function resume(token: string, bytes: Buffer): Promise<Answer> {
    const hash = sha(bytes);
    for (let attempt = 0; attempt < 5; attempt++) {
      const state = await head(token, hash);
      if (state.status === 200) return { status: 200, headers: new Headers(), body: { hash, created: false } };
      const offset = state.offset ?? 0;
      const answer = await putChunk(token, hash, bytes.subarray(offset), offset, bytes.length);
      if (answer.status !== 409) return answer;
    }
    throw new Error('the upload did not settle');
  }

  async function erroredCount(code: string): Promise<number> {
    return (await relay().metrics.errors.get()).values.find((v) => v.labels.code === code)?.value ?? 0;
  }

  describe('PUT with Content-Range', () => {
    it('stores a blob sent in 3 chunks that cross piece boundaries; GET returns the same bytes', async () => {
      const bytes = randomBytes(2 * MIB + 123_457);
      const hash = sha(bytes);
      const cuts = [0, 700_001, 1_900_000, bytes.length];
      for (let i = 0; i < 2; i++) {
        const answer = await putChunk(ann.accessToken, hash, bytes.subarray(cuts[i], cuts[i + 1]), cuts[i]!, bytes.length);
        assert.equal(answer.status, 202);
        assert.deepEqual(answer.body, { hash, offset: cuts[i + 1], size: bytes.length, complete: false });
        assert.equal(answer.headers.get('upload-offset'), String(cuts[i + 1]));
        assert.deepEqual(await head(ann.accessToken, hash), { status: 404, offset: cuts[i + 1], length: bytes.length });
      }
      const last = await putChunk(ann.accessToken, hash, bytes.subarray(cuts[2]), cuts[2]!, bytes.length);
      assert.equal(last.status, 201);
      assert.deepEqual(last.body, { hash, size: bytes.length, created: true });
      assert.deepEqual(await download(ann.accessToken, hash), bytes);
      const range = await fetch(`${relay().url}/v1/blobs/${hash}`, { headers: { authorization: `Bearer ${ann.accessToken}`, range: 'bytes=1048570-2097160' } });
      assert.equal(range.status, 206);
      assert.deepEqual(Buffer.from(await range.arrayBuffer()), bytes.subarray(1048570, 2097161));
      assert.equal(await count('blob_uploads'), 0);
      assert.equal(await count('blob_upload_pieces'), 0);
      assert.equal(await count('blobs WHERE hash = $1 AND storage_key LIKE $2', [hash, 'chunks:%']), 1, 'stored in the usual piece layout');
      assert.equal(await count('blobs'), 4, 'the blob row and its 3 pieces');
      const again = await putChunk(ann.accessToken, hash, bytes.subarray(0, 10), 0, bytes.length);
      assert.equal(again.status, 200);
      assert.deepEqual(again.body, { hash, size: bytes.length, created: false });
    });

    it('stores a one-piece blob sent whole as one chunk, and a blob whose pieces are identical', async () => {
      const small = randomBytes(5000);
      const one = await putChunk(ann.accessToken, sha(small), small, 0, small.length);
      assert.equal(one.status, 201);
      assert.deepEqual(await download(ann.accessToken, sha(small)), small);
      const zeros = Buffer.alloc(3 * MIB);
      const first = await putChunk(ann.accessToken, sha(zeros), zeros.subarray(0, 2 * MIB + 5), 0, zeros.length);
      assert.equal(first.status, 202);
      const rest = await putChunk(ann.accessToken, sha(zeros), zeros.subarray(2 * MIB + 5), 2 * MIB + 5, zeros.length);
      assert.equal(rest.status, 201);
      assert.deepEqual(await download(ann.accessToken, sha(zeros)), zeros);
    });

    it('refuses a chunk that does not start at the held offset with 409 BLOB_UPLOAD_OFFSET_MISMATCH and the offset', async () => {
      const bytes = randomBytes(1_500_000);
      const hash = sha(bytes);
      const fresh = await putChunk(ann.accessToken, hash, bytes.subarray(1000, 2000), 1000, bytes.length);
      assert.equal(fresh.status, 409, 'nothing held yet: only a chunk at 0 starts an upload');
      assert.equal(fresh.body.error.code, 'BLOB_UPLOAD_OFFSET_MISMATCH');
      assert.equal(fresh.headers.get('upload-offset'), '0');
      assert.equal((await putChunk(ann.accessToken, hash, bytes.subarray(0, 1_000_000), 0, bytes.length)).status, 202);
      for (const start of [500_000, 1_000_001, 0]) {
        const wrong = await putChunk(ann.accessToken, hash, bytes.subarray(start, start + 1000), start, bytes.length);
        assert.equal(wrong.status, 409, `start ${start}`);
        assert.equal(wrong.body.error.code, 'BLOB_UPLOAD_OFFSET_MISMATCH');
        assert.equal(wrong.headers.get('upload-offset'), '1000000');
        assert.equal(wrong.headers.get('upload-length'), String(bytes.length));
      }
      const otherTotal = await putChunk(ann.accessToken, hash, bytes.subarray(1_000_000, 1_001_000), 1_000_000, bytes.length + 1);
      assert.equal(otherTotal.status, 409);
      assert.equal(otherTotal.body.error.code, 'BLOB_UPLOAD_LENGTH_MISMATCH');
      assert.equal(otherTotal.headers.get('upload-offset'), '1000000');
      assert.equal((await head(ann.accessToken, hash)).offset, 1_000_000, 'refusals changed nothing');
      assert.equal((await putChunk(ann.accessToken, hash, bytes.subarray(1_000_000), 1_000_000, bytes.length)).status, 201);
      assert.deepEqual(await download(ann.accessToken, hash), bytes);
    });

    it('starts over when a chunk at 0 names another total', async () => {
      const bytes = randomBytes(300_000);
      const hash = sha(bytes);
      assert.equal((await putChunk(ann.accessToken, hash, randomBytes(1000), 0, 999_999)).status, 202);
      assert.equal((await putChunk(ann.accessToken, hash, bytes.subarray(0, 1000), 0, bytes.length)).status, 202);
      assert.deepEqual(await head(ann.accessToken, hash), { status: 404, offset: 1000, length: bytes.length });
      assert.equal((await putChunk(ann.accessToken, hash, bytes.subarray(1000), 1000, bytes.length)).status, 201);
      assert.deepEqual(await download(ann.accessToken, hash), bytes);
    });

    it('discards the upload when the complete content does not match its hash (422 BLOB_HASH_MISMATCH)', async () => {
      const bytes = randomBytes(1_300_000);
      const hash = sha(Buffer.from('other content'));
      assert.equal((await putChunk(ann.accessToken, hash, bytes.subarray(0, 1_200_000), 0, bytes.length)).status, 202);
      const last = await putChunk(ann.accessToken, hash, bytes.subarray(1_200_000), 1_200_000, bytes.length);
      assert.equal(last.status, 422);
      assert.equal(last.body.error.code, 'BLOB_HASH_MISMATCH');
      assert.equal(await count('blob_uploads'), 0);
      assert.equal(await count('blob_upload_pieces'), 0);
      assert.equal(await count('blobs'), 0, 'no blob and no piece row');
      assert.deepEqual(await head(ann.accessToken, hash), { status: 404, offset: null, length: null });
    });

    it('refuses a total over MAX_BLOB_BYTES with 413 BLOB_TOO_LARGE before reading the body', async () => {
      const total = MAX_BLOB + 1;
      const result = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(`${relay().url}/v1/blobs/${'c'.repeat(64)}`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${ann.accessToken}`, 'content-range': `bytes 0-${total - 1}/${total}`, 'content-length': String(total) },
        });
        req.on('response', (res) => {
          let body = '';
          res.on('data', (d) => { body += d; });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.write(Buffer.alloc(1024)); // the answer must come without the rest
      });
      assert.equal(result.status, 413);
      assert.equal(JSON.parse(result.body).error.code, 'BLOB_TOO_LARGE');
      assert.equal(await count('blob_uploads'), 0);
    });

    it('refuses a malformed Content-Range (400 REQUEST_INVALID) and a body of another length (400 BLOB_CHUNK_LENGTH_MISMATCH)', async () => {
      const hash = sha(Buffer.from('x'));
      for (const range of ['bytes */10', 'bytes 5-4/10', 'bytes 0-10/10', 'bytes 0-4', 'items 0-4/10']) {
        const res = await fetch(`${relay().url}/v1/blobs/${hash}`, {
          method: 'PUT', headers: { authorization: `Bearer ${ann.accessToken}`, 'content-range': range }, body: Buffer.alloc(5),
        });
        assert.equal(res.status, 400, range);
        assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'REQUEST_INVALID');
      }
      const short = await fetch(`${relay().url}/v1/blobs/${hash}`, {
        method: 'PUT', headers: { authorization: `Bearer ${ann.accessToken}`, 'content-range': 'bytes 0-9/20' }, body: Buffer.alloc(5),
      });
      assert.equal(short.status, 400);
      assert.equal(((await short.json()) as { error: { code: string } }).error.code, 'BLOB_CHUNK_LENGTH_MISMATCH');
    });

    it('keeps the in-range bytes of a streamed body longer than its range, and says how many (400 with Upload-Offset)', async () => {
      const bytes = randomBytes(200_000);
      const hash = sha(bytes);
      const result = await new Promise<{ status: number; body: string; offset: string | undefined }>((resolve, reject) => {
        const req = request(`${relay().url}/v1/blobs/${hash}`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${ann.accessToken}`, 'content-range': `bytes 0-99999/${bytes.length}`, 'transfer-encoding': 'chunked' },
        });
        req.on('response', (res) => {
          let body = '';
          res.on('data', (d) => { body += d; });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body, offset: res.headers['upload-offset'] as string | undefined }));
        });
        req.on('error', reject);
        req.end(bytes.subarray(0, 150_000));
      });
      assert.equal(result.status, 400);
      assert.equal(JSON.parse(result.body).error.code, 'BLOB_CHUNK_LENGTH_MISMATCH');
      assert.equal(result.offset, '100000');
      assert.equal((await resume(ann.accessToken, bytes)).status, 201);
      assert.deepEqual(await download(ann.accessToken, hash), bytes);
    });
  });

  describe('resuming', () => {
    it('resumes after the connection dropped mid-chunk, from the offset HEAD reports', async () => {
      const bytes = randomBytes(3 * MIB);
      const hash = sha(bytes);
      const abortedBefore = await erroredCount('REQUEST_ABORTED');
      const req = request(`${relay().url}/v1/blobs/${hash}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${ann.accessToken}`, 'content-range': `bytes 0-${bytes.length - 1}/${bytes.length}`, 'content-length': String(bytes.length) },
      });
      req.on('error', () => undefined); // destroyed below on purpose
      const sent = MIB + 600_000;
      req.write(bytes.subarray(0, sent));
      // Wait until the first piece is committed, so the drop really happens mid-upload.
      await waitFor(async () => ((await head(ann.accessToken, hash)).offset ?? 0) >= MIB, 'the first MiB held');
      req.socket?.destroy();
      req.destroy();
      // The relay counts the aborted request once it has kept what arrived.
      await waitFor(async () => (await erroredCount('REQUEST_ABORTED')) > abortedBefore, 'the relay to count the aborted request');
      const state = await head(ann.accessToken, hash);
      assert.equal(state.status, 404);
      assert.ok(state.offset !== null && state.offset >= MIB && state.offset <= sent, `offset ${state.offset}`);
      const pieces = await setup.db().query<{ n: number }>('SELECT coalesce(sum(octet_length(content)), 0)::int AS n FROM blob_upload_pieces');
      assert.equal(pieces.rows[0]!.n, state.offset, 'the reported offset is exactly the bytes held');
      const finished = await resume(ann.accessToken, bytes);
      assert.equal(finished.status, 201);
      assert.deepEqual(await download(ann.accessToken, hash), bytes);
    });

    it('takes one of two concurrent chunks at the same offset and refuses the other with the new offset', async () => {
      const bytes = randomBytes(1_600_000);
      const hash = sha(bytes);
      assert.equal((await putChunk(ann.accessToken, hash, bytes.subarray(0, 400_000), 0, bytes.length)).status, 202);
      const both = await Promise.all([
        putChunk(ann.accessToken, hash, bytes.subarray(400_000, 1_000_000), 400_000, bytes.length),
        putChunk(ann.accessToken, hash, bytes.subarray(400_000, 1_200_000), 400_000, bytes.length),
      ]);
      const statuses = both.map((a) => a.status).sort();
      assert.deepEqual(statuses, [202, 409]);
      const winner = both.find((a) => a.status === 202)!;
      const loser = both.find((a) => a.status === 409)!;
      assert.equal(loser.body.error.code, 'BLOB_UPLOAD_OFFSET_MISMATCH');
      assert.equal((await head(ann.accessToken, hash)).offset, winner.body.offset);
      assert.equal((await resume(ann.accessToken, bytes)).status, 201);
      assert.deepEqual(await download(ann.accessToken, hash), bytes);
    });

    it('a whole PUT of the blob ends its pending chunked upload', async () => {
      const bytes = randomBytes(50_000);
      const hash = sha(bytes);
      assert.equal((await putChunk(ann.accessToken, hash, bytes.subarray(0, 100), 0, bytes.length)).status, 202);
      const whole = await fetch(`${relay().url}/v1/blobs/${hash}`, { method: 'PUT', headers: { authorization: `Bearer ${ann.accessToken}` }, body: bytes });
      assert.equal(whole.status, 201);
      assert.equal(await count('blob_uploads'), 0);
    });
  });

  describe('scoping and lifetime', () => {
    it("answers another user's pending upload exactly like none", async () => {
      const bytes = randomBytes(400_000);
      const hash = sha(bytes);
      assert.equal((await putChunk(ann.accessToken, hash, bytes.subarray(0, 100_000), 0, bytes.length)).status, 202);
      const bob = await signIn(relay(), 'bob@example.com');
      const foreign = await fetch(`${relay().url}/v1/blobs/${hash}`, { headers: { authorization: `Bearer ${bob.accessToken}` } });
      const unknown = await fetch(`${relay().url}/v1/blobs/${sha(Buffer.from('never'))}`, { headers: { authorization: `Bearer ${bob.accessToken}` } });
      assert.equal(foreign.status, 404);
      assert.equal(foreign.headers.get('upload-offset'), null);
      assert.deepEqual(await foreign.json(), await unknown.json());
      const bobChunk = await putChunk(bob.accessToken, hash, bytes.subarray(100_000, 200_000), 100_000, bytes.length);
      assert.equal(bobChunk.status, 409);
      assert.equal(bobChunk.headers.get('upload-offset'), '0', "bob holds nothing; ann's bytes are not his");
      assert.equal((await resume(bob.accessToken, bytes)).status, 201);
      assert.equal((await head(ann.accessToken, hash)).offset, 100_000, "bob's upload did not touch ann's");
    });

    it('pending uploads go with the account (DELETE /v1/account)', async () => {
      const bytes = randomBytes(1_100_000);
      assert.equal((await putChunk(ann.accessToken, sha(bytes), bytes.subarray(0, 1_050_000), 0, bytes.length)).status, 202);
      assert.equal(await count('blob_upload_pieces WHERE user_id = $1', [ann.userId]), 2);
      const deleted = await api(relay(), 'DELETE', '/v1/account', { token: ann.accessToken, body: { password: PASSWORD } });
      assert.equal(deleted.status, 204);
      assert.equal(await count('blob_uploads WHERE user_id = $1', [ann.userId]), 0);
      assert.equal(await count('blob_upload_pieces WHERE user_id = $1', [ann.userId]), 0);
    });

    it('expires after BLOB_UPLOAD_TTL_SECONDS without a chunk: invisible at once, deleted by the retention job', async () => {
      const bytes = randomBytes(10_000);
      const hash = sha(bytes);
      assert.equal((await putChunk(ann.accessToken, hash, bytes.subarray(0, 4000), 0, bytes.length)).status, 202);
      const { rows } = await setup.db().query<{ seconds: number }>(
        'SELECT extract(epoch FROM expires_at - now())::float8 AS seconds FROM blob_uploads WHERE user_id = $1',
        [ann.userId],
      );
      assert.ok(Math.abs(rows[0]!.seconds - TTL_SECONDS) < 60, `expires in ${rows[0]!.seconds} s`);
      await setup.db().query("UPDATE blob_uploads SET expires_at = now() - interval '1 second'");
      assert.deepEqual(await head(ann.accessToken, hash), { status: 404, offset: null, length: null });
      const stale = await putChunk(ann.accessToken, hash, bytes.subarray(4000), 4000, bytes.length);
      assert.equal(stale.status, 409);
      assert.equal(stale.headers.get('upload-offset'), '0');
      assert.equal(await purgeExpiredUploads(setup.db()), 0, 'the refused chunk already removed the expired upload of this hash');

      assert.equal((await putChunk(ann.accessToken, hash, bytes.subarray(0, 4000), 0, bytes.length)).status, 202);
      await setup.db().query("UPDATE blob_uploads SET expires_at = now() - interval '1 second'");
      const schedule = scheduleCompaction({ db: setup.db(), intervalMs: 20, ageSeconds: 3600 });
      try {
        await waitFor(async () => (await count('blob_uploads')) === 0, 'the retention job to purge the expired upload');
      } finally {
        await schedule.stop();
      }
      assert.equal(await count('blob_upload_pieces'), 0);
    });
  });
}
