/**
 * HttpBlobStore against the real relay's blob routes (PGlite): whole and chunked uploads,
 * an upload cut off halfway that resumes from the relay's offset, downloads resumed with
 * Range, and hash checks on both ends.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { sha256Hex } from '../../../core/model/hash';
import { HttpBlobStore } from '../../../core/node/blobs/http-blob-store';
import { usePgliteDatabase } from '../../support/pglite';
import { signIn, useSuiteRelay, type SignedIn } from '../../server/http/relay-fixture';

const MIB = 1024 * 1024;

describe('HttpBlobStore (real relay, PGlite)', () => {
  const db = usePgliteDatabase();
  const relay = useSuiteRelay({ db, flags: () => ({}) });
  let ann: SignedIn;

  beforeEach(async () => {
    ann = await signIn(relay(), 'ann@example.com');
  });

  /** A store whose fetch counts the request body bytes it sends. */
  function store(options: { chunkBytes?: number; fetch?: typeof fetch } = {}) {
    const sent = { bytes: 0, requests: 0 };
    const blobs = new HttpBlobStore({
      serverUrl: relay().url,
      getToken: async () => ann.accessToken,
      chunkBytes: options.chunkBytes,
      fetch: (url, init) => {
        sent.requests++;
        if (init?.body instanceof Uint8Array) sent.bytes += init.body.length;
        return (options.fetch ?? fetch)(url, init);
      },
    });
    return { blobs, sent };
  }

  it('stores and reads back a small blob in one request each way, and knows it has it', async () => {
    const { blobs } = store();
    const bytes = new TextEncoder().encode('hello blob');
    const hash = sha256Hex(bytes);
    assert.equal(await blobs.has(hash), false);
    await blobs.put(hash, bytes);
    assert.equal(await blobs.has(hash), true);
    assert.deepEqual(await blobs.get(hash), bytes);
    assert.equal(await blobs.get(sha256Hex('missing')), null);
  });

  it('refuses bytes that do not match the hash before sending anything', async () => {
    const { blobs, sent } = store();
    await assert.rejects(blobs.put(sha256Hex('other'), new TextEncoder().encode('bytes')), { code: 'BLOB_HASH_MISMATCH' });
    assert.equal(sent.requests, 0);
  });

  it('resumes an upload cut off halfway (a run that lost the network after half the chunks) from the relay\'s offset', async () => {
    const bytes = randomBytes(4 * MIB);
    const hash = sha256Hex(bytes);
    // The first run: the network goes away after two of four chunks; it gives up.
    let puts = 0;
    const first = new HttpBlobStore({
      serverUrl: relay().url,
      getToken: async () => ann.accessToken,
      chunkBytes: MIB,
      attempts: 1,
      fetch: async (url, init) => {
        if (init?.method === 'PUT' && ++puts > 2) throw new TypeError('fetch failed');
        return fetch(url, init);
      },
    });
    await assert.rejects(first.put(hash, bytes), { code: 'RELAY_UNREACHABLE' });
    const head = await fetch(`${relay().url}/v1/blobs/${hash}`, { method: 'HEAD', headers: { authorization: `Bearer ${ann.accessToken}` } });
    assert.equal(head.status, 404);
    assert.equal(Number(head.headers.get('upload-offset')), 2 * MIB, 'the relay holds the first half');
    // The next run sends only the second half.
    const { blobs, sent } = store({ chunkBytes: MIB });
    await blobs.put(hash, bytes);
    assert.equal(sent.bytes, 2 * MIB, 'only the missing bytes were sent');
    assert.deepEqual(await blobs.get(hash), new Uint8Array(bytes));
  });

  it('retries a chunk whose connection failed, from the offset the relay reports', async () => {
    const bytes = randomBytes(3 * MIB + 17);
    const hash = sha256Hex(bytes);
    let puts = 0;
    const { blobs } = store({
      chunkBytes: MIB,
      fetch: async (url, init) => {
        if (init?.method === 'PUT' && ++puts === 2) throw new TypeError('fetch failed');
        return fetch(url, init);
      },
    });
    await blobs.put(hash, bytes);
    assert.ok(puts >= 5, `chunks plus one retry (${puts})`);
    assert.deepEqual(await blobs.get(hash), new Uint8Array(bytes));
  });

  it('resumes a download cut off midway with Range and checks the hash of the whole', async () => {
    const bytes = randomBytes(2 * MIB);
    const hash = sha256Hex(bytes);
    await store().blobs.put(hash, bytes);
    let cut = false;
    const ranges: string[] = [];
    const { blobs } = store({
      fetch: async (url, init) => {
        const res = await fetch(url, init);
        const range = new Headers(init?.headers).get('range');
        if (range) ranges.push(range);
        if (init?.method !== 'GET' || cut || !res.body) return res;
        cut = true;
        // Pass the first 256 KiB, then break the stream.
        const reader = res.body.getReader();
        let passed = 0;
        const broken = new ReadableStream<Uint8Array>({
          async pull(controller) {
            const { done, value } = await reader.read();
            if (done || passed >= 256 * 1024) {
              void reader.cancel();
              controller.error(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
              return;
            }
            passed += value.length;
            controller.enqueue(value);
          },
        });
        return new Response(broken, { status: res.status, headers: res.headers });
      },
    });
    assert.deepEqual(await blobs.get(hash), new Uint8Array(bytes));
    assert.equal(ranges.length, 1, 'one resumed request');
    assert.match(ranges[0]!, /^bytes=\d+-$/);
  });
});
