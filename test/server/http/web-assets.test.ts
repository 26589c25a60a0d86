/**
 * The relay serving its web page (server/http/web-assets.ts) from a built folder: the page at
 * `/` with the CSP and no-cache + ETag, hashed assets immutable and in the encoding asked for,
 * and WEB_NOT_BUILT without a page.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, gzipSync, gunzipSync, brotliDecompressSync } from 'node:zlib';
import { request } from 'node:http';
import { WEB_CONTENT_SECURITY_POLICY } from '../../../server/http/web-assets';
import type { RelayServer } from '../../../server/relay-server';
import { openTestPglite } from '../../support/pglite';
import type { PgliteDatabase } from '../../../server/db/pglite-database';
import { errorCode, api, startTestRelay } from './relay-fixture';

/** A raw GET (fetch would decode the body and hide content-encoding). */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    request(url, { headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (p: Buffer) => parts.push(p));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts) }));
    }).on('error', reject).end();
  });
}

describe('web page serving', function () {
  this.timeout(30_000);
  let db: PgliteDatabase;
  let dir: string;
  let relay: RelayServer;
  const script = 'console.log("app");'.repeat(50);
  before(async () => {
    db = await openTestPglite();
    dir = await mkdtemp(join(tmpdir(), 'web-assets-'));
    await mkdir(join(dir, 'assets'));
    await writeFile(join(dir, 'index.html'), '<!doctype html><title>roo-sync</title><script src="/assets/app-ABC123.js"></script>');
    await writeFile(join(dir, 'assets', 'app-ABC123.js'), script);
    await writeFile(join(dir, 'assets', 'app-ABC123.js.br'), brotliCompressSync(script));
    await writeFile(join(dir, 'assets', 'app-ABC123.js.gz'), gzipSync(script));
    await writeFile(join(dir, 'manifest.webmanifest'), '{"name":"roo-sync"}');
    relay = await startTestRelay(db, {}, { webRoot: dir });
  });
  after(async () => {
    await relay?.close();
    await db?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves the page at / with a strict CSP, no-cache and an ETag that answers 304', async () => {
    const res = await get(`${relay.url}/`);
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/html/);
    assert.equal(res.headers['content-security-policy'], WEB_CONTENT_SECURITY_POLICY);
    assert.ok(!/unsafe-inline|unsafe-eval/.test(WEB_CONTENT_SECURITY_POLICY));
    assert.match(WEB_CONTENT_SECURITY_POLICY, /script-src 'self'/);
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(res.headers['cache-control'], 'no-cache');
    const again = await get(`${relay.url}/`, { 'if-none-match': String(res.headers.etag) });
    assert.equal(again.status, 304);
    assert.equal(again.body.length, 0);
  });

  it('serves hashed assets immutable, brotli or gzip as accepted, identity otherwise', async () => {
    const br = await get(`${relay.url}/assets/app-ABC123.js`, { 'accept-encoding': 'gzip, deflate, br' });
    assert.equal(br.headers['content-encoding'], 'br');
    assert.equal(br.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(brotliDecompressSync(br.body).toString(), script);
    const gz = await get(`${relay.url}/assets/app-ABC123.js`, { 'accept-encoding': 'gzip;q=1, br;q=0' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(gz.body).toString(), script);
    const plain = await get(`${relay.url}/assets/app-ABC123.js`);
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.body.toString(), script);
    assert.match(String(plain.headers['content-type']), /^text\/javascript/);
  });

  it('serves the manifest and answers 404 for an unknown asset', async () => {
    const manifest = await get(`${relay.url}/manifest.webmanifest`);
    assert.match(String(manifest.headers['content-type']), /^application\/manifest\+json/);
    assert.equal((await api(relay, 'GET', '/assets/app-NOPE.js')).status, 404);
  });

  it('answers 404 WEB_NOT_BUILT at / on a relay without a page', async () => {
    const bare = await startTestRelay(db, {}, { webRoot: false });
    try {
      const res = await api(bare, 'GET', '/');
      assert.equal(res.status, 404);
      assert.equal(errorCode(res), 'WEB_NOT_BUILT');
    } finally {
      await bare.close();
    }
  });
});
