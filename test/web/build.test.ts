/**
 * web/build-web.mjs: the built page has no inline script (the CSP allows none), content-hashed
 * assets with brotli and gzip copies, and a manifest whose icons exist (installable).
 */
import assert from 'node:assert/strict';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { buildPage } from './web-fixture';

describe('web build', function () {
  this.timeout(60_000);
  let dir = '';
  let files: Array<{ path: string; bytes: number; brotliBytes: number }> = [];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'web-build-'));
    files = (await buildPage(join(dir, 'web'))).files;
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('writes index.html that loads only hashed files from this origin, with no inline script or style', async () => {
    const html = await readFile(join(dir, 'web', 'index.html'), 'utf8');
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    assert.equal(scripts.length, 1);
    assert.match(scripts[0]![1]!, /src="\/assets\/app-[A-Z0-9]+\.js"/);
    assert.equal(scripts[0]![2]!.trim(), '', 'no inline script');
    assert.ok(!/<style|\sstyle=|\son[a-z]+=/i.test(html), 'no inline style or handler');
    assert.ok(!/https?:\/\//.test(html), 'no third-party origin');
    assert.match(html, /<link rel="stylesheet" href="\/assets\/app-[A-Z0-9]+\.css">/);
    assert.match(html, /<html lang="en">/);
  });

  it('writes brotli and gzip copies that decode to the files', async () => {
    for (const file of files) {
      const raw = await readFile(join(dir, 'web', file.path));
      assert.deepEqual(brotliDecompressSync(await readFile(join(dir, 'web', `${file.path}.br`))), raw, file.path);
      assert.deepEqual(gunzipSync(await readFile(join(dir, 'web', `${file.path}.gz`))), raw, file.path);
      assert.equal(file.bytes, raw.length);
    }
    const js = files.filter((f) => f.path.endsWith('.js') || f.path.endsWith('.css')).reduce((n, f) => n + f.brotliBytes, 0);
    assert.ok(js < 150 * 1024, `JS + CSS with brotli is ${js} bytes, over 150 KB`);
  });

  it('writes a manifest whose PNG icons of 192 and 512 px exist', async () => {
    const manifest = JSON.parse(await readFile(join(dir, 'web', 'manifest.webmanifest'), 'utf8')) as { start_url: string; display: string; icons: Array<{ src: string; sizes: string; type: string }> };
    assert.equal(manifest.start_url, '/');
    assert.equal(manifest.display, 'standalone');
    for (const size of [192, 512]) {
      const icon = manifest.icons.find((i) => i.sizes === `${size}x${size}`);
      assert.ok(icon, `icon ${size}`);
      const png = await readFile(join(dir, 'web', icon.src));
      assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47], 'PNG signature');
      assert.equal(png.readUInt32BE(16), size, 'width');
      assert.equal(png.readUInt32BE(20), size, 'height');
    }
  });
});
