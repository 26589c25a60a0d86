import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, stat, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSyncError } from '../../../core/errors';
import { acquireFileLock, lockPathFor, withFileLock } from '../../../core/node/stores/file-lock';

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

describe('file-lock', () => {
  let dir: string;
  let file: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'roo-sync-lock-'));
    file = join(dir, 'ui_messages.json');
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  describe('#acquireFileLock', () => {
    it('creates the <file>.lock directory and removes it on release (twice is fine)', async () => {
      const lock = await acquireFileLock(file);
      assert.equal(lock.lockPath, `${file}.lock`);
      assert.ok((await stat(lock.lockPath)).isDirectory());
      await lock.release();
      await lock.release();
      assert.equal(await exists(lock.lockPath), false);
    });

    it('waits for a live lock, then fails with STORE_LOCKED and leaves the lock alone', async () => {
      await mkdir(lockPathFor(file));
      const started = Date.now();
      await assert.rejects(acquireFileLock(file, { waitMs: 150, pollMs: 20 }), (error: unknown) => {
        assert.ok(isSyncError(error, 'STORE_LOCKED'));
        assert.equal(error.details?.['lockPath'], lockPathFor(file));
        assert.ok((error.details?.['waitedMs'] as number) >= 150);
        return true;
      });
      assert.ok(Date.now() - started >= 150);
      assert.ok(await exists(lockPathFor(file)));
    });

    it('gets the lock as soon as a live holder releases it', async () => {
      const holder = await acquireFileLock(file);
      const waiting = acquireFileLock(file, { waitMs: 5_000, pollMs: 10 });
      let acquired = false;
      void waiting.then(() => (acquired = true));
      await new Promise((r) => setImmediate(r));
      assert.equal(acquired, false);
      await holder.release();
      const lock = await waiting;
      assert.ok(await exists(lock.lockPath));
      await lock.release();
    });

    it('takes over a lock older than 31 s without waiting', async () => {
      await mkdir(lockPathFor(file));
      const old = new Date(Date.now() - 40_000);
      await utimes(lockPathFor(file), old, old);
      const started = Date.now();
      const lock = await acquireFileLock(file, { waitMs: 5_000 });
      assert.ok(Date.now() - started < 1_000);
      assert.ok((await stat(lock.lockPath)).mtimeMs > old.getTime() + 30_000);
      await lock.release();
    });

    it('does not treat a 20 s old lock as stale', async () => {
      await mkdir(lockPathFor(file));
      const recent = new Date(Date.now() - 20_000);
      await utimes(lockPathFor(file), recent, recent);
      await assert.rejects(acquireFileLock(file, { waitMs: 60, pollMs: 20 }), (e: unknown) => isSyncError(e, 'STORE_LOCKED'));
    });

    it('serialises two writers in the same process', async () => {
      const order: string[] = [];
      await Promise.all(
        ['a', 'b'].map((name) =>
          withFileLock(file, { pollMs: 5 }, async () => {
            order.push(`${name}-in`);
            await new Promise((r) => setImmediate(r));
            order.push(`${name}-out`);
          }),
        ),
      );
      assert.equal(order.length, 4);
      assert.equal(order[0]!.replace('-in', '-out'), order[1]);
    });
  });
});
