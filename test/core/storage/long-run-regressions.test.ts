/**
 * Regressions found by long convergence runs (`npm run bench -- convergence --steps=150-300`),
 * each reduced to the few steps that cause it. The seeds themselves run in
 * test/core/storage/convergence.test.ts (LONG_SEEDS).
 */
import assert from 'node:assert/strict';
import { isSyncError } from '../../../core/errors';
import type { ServerChange } from '../../../core/model/changes';
import { pullLog } from '../../support/sim/convergence';
import type { SimDevice } from '../../support/sim/sim-device';
import { SimWorld } from '../../support/sim/sim-world';

const enc = (text: string) => new TextEncoder().encode(text);
const dec = (bytes: Uint8Array | undefined) => (bytes ? new TextDecoder().decode(bytes) : undefined);

async function log(world: SimWorld): Promise<ServerChange[]> {
  return pullLog(world.relay, world.userId, world.network);
}

/** syncToCloud with the device offline: what it detects is only queued. */
async function queueOffline(world: SimWorld, device: SimDevice): Promise<void> {
  device.transport!.disconnect();
  await assert.rejects(world.run(device.storage!.syncToCloud()), (err) => isSyncError(err, 'STORAGE_SYNC_FAILED'));
}

/** The process dies and its outbox journal is lost with it; then it starts again. */
async function restartWithoutJournal(world: SimWorld, device: SimDevice): Promise<void> {
  device.kill();
  device.loseOutbox(world.relay.serverCursor(world.userId));
  await device.start();
}

describe('HybridStorage long-run regressions', () => {
  describe('workspace files', () => {
    // Seed 631: b skipped a's img.bin because its own new img.bin was queued; b then deleted its
    // file (the queued put became a delete of a file the relay never had from b) and lost the
    // journal. The state saw nothing to queue again (deleted, base deleted), and the cursor was
    // past a's put: b never got img.bin while every other device had it.
    it('gets a remote file it skipped for a queued local change that a lost journal took away', async () => {
      const world = new SimWorld();
      const a = await world.addDevice();
      const b = await world.addDevice();
      await a.files.write('notes.md', enc('notes\n'), { mode: 0o644, mtime: world.clock.t });
      await world.syncAll();
      await a.files.write('img.bin', enc('from a'), { mode: 0o644, mtime: world.clock.t });
      await world.run(a.storage!.syncToCloud());
      await b.files.write('img.bin', enc('from b'), { mode: 0o644, mtime: world.clock.t + 1 });
      // The pull queues b's new file first and skips a's version (they meet at the relay).
      await world.run(b.storage!.syncFromCloud());
      assert.equal(b.storage!.cursor, world.relay.serverCursor(world.userId));
      await b.files.remove('img.bin');
      await queueOffline(world, b);
      await restartWithoutJournal(world, b);
      await world.syncAll();
      assert.equal(dec(b.files.peek('img.bin')), 'from a');
      assert.equal(dec(a.files.peek('img.bin')), 'from a');
      assert.ok((await log(world)).every((c) => c.body.type !== 'file.delete'));
    });

    it('gets a remote file it skipped when the lost journal held a local edit back to the base', async () => {
      const world = new SimWorld();
      const a = await world.addDevice();
      const b = await world.addDevice();
      await a.files.write('f.txt', enc('base\n'), { mode: 0o644, mtime: world.clock.t });
      await world.syncAll();
      world.tick();
      await a.files.write('f.txt', enc('edited by a\n'), { mode: 0o644, mtime: world.clock.t });
      await world.run(a.storage!.syncToCloud());
      await b.files.write('f.txt', enc('edited by b\n'), { mode: 0o644, mtime: world.clock.t + 1 });
      await world.run(b.storage!.syncFromCloud());
      await b.files.write('f.txt', enc('base\n'), { mode: 0o644, mtime: world.clock.t + 2 });
      await queueOffline(world, b);
      await restartWithoutJournal(world, b);
      await world.syncAll();
      assert.equal(dec(b.files.peek('f.txt')), 'edited by a\n');
      assert.equal(dec(a.files.peek('f.txt')), 'edited by a\n');
    });
  });
});
