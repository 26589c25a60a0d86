import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Hex } from '../../../core/model/hash';
import { FsEntryCache } from '../../../core/node/storage/fs-entry-cache';

const text = (s: string) => new TextEncoder().encode(s);

describe('FsEntryCache', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'roo-sync-entries-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('keeps entries across a close and a reopen (a restarted device still has them)', async () => {
    const cache = await FsEntryCache.open({ dir });
    const entries = Array.from({ length: 300 }, (_, i) => text(JSON.stringify({ ts: i, text: `message ${i}` })));
    for (const bytes of entries) await cache.put(sha256Hex(bytes), bytes);
    await cache.close();
    const again = await FsEntryCache.open({ dir });
    for (const bytes of entries) assert.deepEqual(await again.get(sha256Hex(bytes)), bytes);
    assert.equal(await again.has(sha256Hex(text('never stored'))), false);
    assert.equal(await again.get(sha256Hex(text('never stored'))), null);
    await again.close();
  });

  it('refuses bytes that do not match their hash', async () => {
    const cache = await FsEntryCache.open({ dir });
    await assert.rejects(cache.put(sha256Hex(text('a')), text('b')), { code: 'BLOB_HASH_MISMATCH' });
    await cache.close();
  });

  it('cuts off a record torn by a crash at the end of a shard, keeping the ones before it', async () => {
    const cache = await FsEntryCache.open({ dir });
    const a = text('{"a":1}');
    const hash = sha256Hex(a);
    await cache.put(hash, a);
    await cache.close();
    const shard = join(dir, `${hash.slice(0, 2)}.pack`);
    const whole = (await stat(shard)).size;
    await appendFile(shard, Buffer.from([0, 0, 1, 0, 1, 2, 3]));
    const again = await FsEntryCache.open({ dir });
    assert.deepEqual(await again.get(hash), a);
    assert.equal((await stat(shard)).size, whole);
    const b = text('{"b":2}');
    await again.put(sha256Hex(b), b);
    assert.deepEqual(await again.get(sha256Hex(b)), b);
    await again.close();
  });

  it('reads a damaged record as missing, never as other content', async () => {
    const cache = await FsEntryCache.open({ dir });
    const a = text('{"text":"original"}');
    const hash = sha256Hex(a);
    await cache.put(hash, a);
    await cache.close();
    const shard = join(dir, `${hash.slice(0, 2)}.pack`);
    const bytes = await readFile(shard);
    bytes[bytes.length - 3] ^= 0xff;
    await writeFile(shard, bytes);
    const again = await FsEntryCache.open({ dir });
    assert.equal(await again.get(hash), null);
    await again.close();
  });

  it('compacts to the live hashes, then bounds the rest by dropping the oldest', async () => {
    const cache = await FsEntryCache.open({ dir, maxBytes: 256 * 200 });
    const all = Array.from({ length: 2000 }, (_, i) => text(JSON.stringify({ ts: i, text: 'x'.repeat(50) })));
    for (const bytes of all) await cache.put(sha256Hex(bytes), bytes);
    const live = new Set(all.filter((_, i) => i % 2 === 0).map((b) => sha256Hex(b)));
    const report = await cache.compact((hash) => live.has(hash));
    assert.ok(report.bytesAfter <= 256 * 200, `bounded (${report.bytesAfter})`);
    assert.ok(report.dropped >= 1000);
    assert.equal(report.kept + report.dropped, 2000);
    assert.equal(await cache.sizeOnDisk(), report.bytesAfter);
    for (let i = 1; i < all.length; i += 2) assert.equal(await cache.has(sha256Hex(all[i]!)), false, 'dead entries dropped');
    const kept = (await Promise.all([...live].map((h) => cache.has(h)))).filter(Boolean).length;
    assert.equal(kept, report.kept);
    await cache.close();
    const again = await FsEntryCache.open({ dir });
    assert.equal((await Promise.all([...live].map((h) => again.has(h)))).filter(Boolean).length, report.kept, 'the compacted shards read back');
    await again.close();
  });

  it('closes idempotently and refuses use afterwards', async () => {
    const cache = await FsEntryCache.open({ dir });
    await cache.close();
    await cache.close();
    await assert.rejects(cache.get(sha256Hex(text('x'))), { code: 'ENTRY_CACHE_CLOSED' });
  });
});
