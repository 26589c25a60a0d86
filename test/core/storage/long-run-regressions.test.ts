/**
 * Regressions found by long convergence runs (`npm run bench -- convergence --steps=150-300`),
 * each reduced to the few steps that cause it. The seeds themselves run in
 * test/core/storage/convergence.test.ts (LONG_SEEDS).
 */
import assert from 'node:assert/strict';
import { isSyncError, SyncError } from '../../../core/errors';
import { asDeviceId, asTaskId, type TaskId } from '../../../core/ids';
import type { ClientChange, ServerChange, StreamPutBody, StreamTruncateBody } from '../../../core/model/changes';
import { hashJson } from '../../../core/model/hash';
import type { SyncContext } from '../../../core/storage/sync-context';
import { applyTaskChanges } from '../../../core/storage/task-apply';
import { detectTaskChanges } from '../../../core/storage/task-detect';
import { notePending } from '../../../core/storage/outbox-recovery';
import { SyncState, trackedList } from '../../../core/storage/sync-state';
import { pullLog } from '../../support/sim/convergence';
import { memorySyncContext } from './memory-sync-context';
import { SimDevice } from '../../support/sim/sim-device';
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
  describe('a crash between queueing and saving the sync state', () => {
    // Seed 486: detection queued b's new api entry, then the process died before the sync state
    // recording it was saved. After the restart the push stored it, but the ack found no tracked
    // entry to record; the pull that brought it back detected the same entry on disk as new and
    // queued it again: the relay stored it twice.
    it('sends a change the outbox holds and the saved state does not know once', async () => {
      const world = new SimWorld();
      const a = await world.addDevice();
      const b = await world.addDevice();
      const taskId = 't1' as TaskId;
      await a.store.writeTask({ source: 'roo-code', taskId, ui: [{ ts: 1000, type: 'say', say: 'text', text: 'hi' }], api: [{ role: 'user', content: 'q' }], historyItem: { id: taskId, number: 1, ts: 1000, task: 'q' } });
      await world.syncAll();
      const task = (await b.store.readTask(taskId))!;
      await b.store.writeTask({ ...task, ui: [...task.ui, { ts: 2000, type: 'say', say: 'text', text: 'answer' }], api: [...task.api, { role: 'assistant', content: 'answer' }] });
      // The process dies at the save that follows the enqueue.
      const save = b.stateStore.save.bind(b.stateStore);
      b.stateStore.save = async () => {
        b.stateStore.save = save;
        throw new SyncError('SIM_CRASHED', 'simulated crash');
      };
      await assert.rejects(world.run(b.storage!.syncToCloud()));
      assert.equal(b.outbox.size, 2, 'the changes are queued');
      b.kill();
      await b.start();
      await world.run(new Promise((resolve) => setImmediate(resolve))); // the welcome
      // Push first (the relay stores the changes), then the pull brings them back.
      await world.run(b.storage!.syncFromCloud());
      await world.syncAll();
      const puts = (await log(world)).filter((c) => c.deviceId === b.deviceId && c.body.type === 'stream.put');
      assert.deepEqual(puts.map((c) => (c.body as StreamPutBody).stream).sort(), ['api', 'ui']);
      assert.deepEqual(await a.store.readTask(taskId), await b.store.readTask(taskId));
    });
  });

  describe('stale memory', () => {
    // Seeds 202 and 445: c's assistant held a ui message as it was two remote edits ago and wrote
    // it back. Only the version the latest remote change replaced was recognised as stale, so the
    // old version went out as an edit of the latest one (its base), silently undoing both remote
    // edits on every device (two devices doing so at once showed up as an "echo").
    it('restores a remote version instead of sending a version from before several remote edits', async () => {
      const world = new SimWorld();
      const a = await world.addDevice();
      const b = await world.addDevice();
      const c = await world.addDevice();
      const taskId = 't1' as TaskId;
      const msg = (text: string) => ({ ts: 1000, type: 'say', say: 'text', text, partial: true });
      await a.store.writeTask({ source: 'roo-code', taskId, ui: [msg('v1')], api: [], historyItem: { id: taskId, number: 1, ts: 1000, task: 'q' } });
      await world.syncAll();
      const stale = (await c.store.readTask(taskId))!; // c's assistant keeps this in memory
      for (const text of ['v1 v2', 'v1 v2 v3']) {
        const task = (await b.store.readTask(taskId))!;
        await b.store.writeTask({ ...task, ui: [msg(text)] });
        await world.run(b.storage!.syncToCloud());
        await world.run(c.storage!.syncFromCloud());
      }
      await c.store.writeTask(stale);
      await world.run(c.storage!.syncToCloud());
      await world.syncAll();
      assert.ok((await log(world)).every((change) => change.deviceId !== c.deviceId), 'c sent nothing');
      for (const device of [a, b, c]) assert.deepEqual((await device.store.readTask(taskId))!.ui, [msg('v1 v2 v3')]);
    });
  });

  describe('stale memory after a remote "delete from here"', () => {
    // Seed 504: b deleted its last ui messages ("delete from here"); c, whose assistant still held
    // them in memory, wrote the task back with them. c no longer tracked the keys (the truncate
    // removed them), so it took them for new messages and sent them: the deletion was undone on
    // every device (two devices doing so at once showed up as an "echo").
    it('drops a ui entry a remote truncate removed when stale memory writes it back, and sends what is new', async () => {
      const world = new SimWorld();
      const a = await world.addDevice();
      const b = await world.addDevice();
      const c = await world.addDevice();
      const taskId = 't1' as TaskId;
      const say = (ts: number, text: string) => ({ ts, type: 'say', say: 'text', text });
      await a.store.writeTask({ source: 'roo-code', taskId, ui: [say(1000, 'start')], api: [], historyItem: { id: taskId, number: 1, ts: 1000, task: 'q' } });
      await world.syncAll();
      const task = (await b.store.readTask(taskId))!;
      await b.store.writeTask({ ...task, ui: [...task.ui, say(2000, 'b one'), say(3000, 'b two')] });
      await world.syncAll();
      const stale = (await c.store.readTask(taskId))!; // c's assistant keeps this in memory
      await b.store.writeTask({ ...task, ui: [...task.ui, say(2000, 'b one')] }); // b deletes from "b two"
      await world.run(b.storage!.syncToCloud());
      await world.run(c.storage!.syncFromCloud());
      assert.deepEqual((await c.store.readTask(taskId))!.ui, [say(1000, 'start'), say(2000, 'b one')]);
      await c.store.writeTask({ ...stale, ui: [...stale.ui, say(4000, 'c new')] });
      await world.run(c.storage!.syncToCloud());
      await world.syncAll();
      const fromC = (await log(world)).filter((change) => change.deviceId === c.deviceId);
      assert.deepEqual(fromC.map((change) => (change.body as StreamPutBody).key), ['4000:0']);
      const expected = [say(1000, 'start'), say(2000, 'b one'), say(4000, 'c new')];
      for (const device of [a, b, c]) assert.deepEqual((await device.store.readTask(taskId))!.ui, expected);
    });
  });

  describe('stale memory after a remote truncate, at the engine', () => {
    const me = asDeviceId('device-me');
    const other = asDeviceId('device-other');
    const taskId = asTaskId('t9');
    const say = (ts: number, text: string) => ({ ts, type: 'say', say: 'text', text });
    const context = (): SyncContext => memorySyncContext(me, 1);
    const change = (seq: number, body: StreamPutBody | StreamTruncateBody): ServerChange => ({
      seq,
      deviceId: other,
      clientSeq: seq,
      baseSeq: null,
      body,
      entity: body.type === 'stream.put' ? `stream/roo-code/${taskId}/ui/${body.key}` : `stream/roo-code/${taskId}/ui`,
    });
    const put = (seq: number, key: string, entry: unknown) => change(seq, { type: 'stream.put', source: 'roo-code', taskId, stream: 'ui', key, hash: hashJson(entry), entry });
    const cutAfter = (seq: number, afterKey: string) => change(seq, { type: 'stream.truncate', source: 'roo-code', taskId, stream: 'ui', afterKey });
    const noPending = { entities: new Set<string>(), truncates: new Map() };

    /** Applies `changes` to an empty task, then detects `stale` (what memory writes back). */
    async function afterTruncate(changes: ServerChange[], stale: unknown[]) {
      const ctx = context();
      const task = ctx.state.task('roo-code', taskId);
      const applied = await applyTaskChanges(ctx, null, task, changes, noPending);
      assert.ok(applied.write === null || applied.write.ui.length === 1);
      return detectTaskChanges(ctx, { source: 'roo-code', taskId, ui: stale, api: [], historyItem: { id: taskId } }, task);
    }

    // Seed 1172 (300-600 steps): the memory held the message as it was before the version the
    // truncate removed (an older version of the same message).
    it('drops a message written back as it was before the version a remote truncate removed', async () => {
      const start = say(1, 'start');
      const changes = [put(1, '1:0', start), put(2, '5:0', say(5, 'v1')), put(3, '5:0', say(5, 'v1 v2')), cutAfter(4, '1:0')];
      const detected = await afterTruncate(changes, [start, say(5, 'v1')]);
      assert.deepEqual(detected.changes.filter((c) => c.body.type === 'stream.put'), []);
      assert.deepEqual(detected.rewrite?.ui, [start]);
    });

    // Seed 2397 (300-600 steps): two messages shared a ts; the memory held only the second, which
    // keys as occurrence 0 once the first is gone.
    it('drops a message written back under another occurrence of its ts', async () => {
      const start = say(1, 'start');
      const changes = [put(1, '1:0', start), put(2, '5:0', say(5, 'first')), put(3, '5:1', say(5, 'second')), cutAfter(4, '1:0')];
      const detected = await afterTruncate(changes, [start, say(5, 'second')]);
      assert.deepEqual(detected.changes.filter((c) => c.body.type === 'stream.put'), []);
      assert.deepEqual(detected.rewrite?.ui, [start]);
      // Another message with that ts is new: it is sent.
      const fresh = await afterTruncate(changes, [start, say(5, 'third')]);
      assert.deepEqual(fresh.changes.filter((c) => c.body.type === 'stream.put').map((c) => (c.body as StreamPutBody).key), ['5:0']);
    });
  });

  describe('a truncate with the key of an earlier one', () => {
    // Seeds 6237 and 8702 (10,000 long runs): b deleted from message m1 (a truncate), appended m3
    // and pushed both; before b pulled them back, its user deleted m3, again from m1. The pull
    // queued that second truncate and then applied b's first one coming back, which has the same
    // key: it was taken for the ack of the queued one and cleared its note in the state. The
    // journal was then lost and nothing queued the truncate again: b no longer had m3, every
    // other device still had it.
    it('keeps a queued truncate noted when an earlier own truncate with the same key comes back', async () => {
      const world = new SimWorld();
      const a = await world.addDevice();
      const b = await world.addDevice();
      const taskId = 't1' as TaskId;
      const say = (ts: number, text: string) => ({ ts, type: 'say', say: 'text', text });
      const start = [say(1000, 'start')];
      await a.store.writeTask({ source: 'roo-code', taskId, ui: start, api: [], historyItem: { id: taskId, number: 1, ts: 1000, task: 'q' } });
      await world.syncAll();
      const task = (await b.store.readTask(taskId))!;
      const write = (ui: unknown[]) => b.store.writeTask({ ...task, ui });
      await write([...start, say(2000, 'm1'), say(3000, 'm2')]);
      await world.syncAll();
      // A change of a's that b has not pulled yet: b's own changes after it come back in b's
      // next pull (a cursor right below them would just skip them).
      await a.store.writeTask({ source: 'roo-code', taskId: 't2' as TaskId, ui: [say(1500, 'other')], api: [], historyItem: { id: 't2', number: 2, ts: 1500, task: 'r' } });
      await world.run(a.storage!.syncToCloud());
      await write([...start, say(2000, 'm1')]); // delete from m2: truncate after m1
      await world.run(b.storage!.syncToCloud());
      await write([...start, say(2000, 'm1'), say(4000, 'm3')]);
      await world.run(b.storage!.syncToCloud());
      await write([...start, say(2000, 'm1')]); // delete from m3: truncate after m1 again
      // The pull queues the new truncate, then meets b's first one (same key) coming back.
      await world.run(b.storage!.syncFromCloud());
      assert.equal(b.outbox.size, 1);
      await restartWithoutJournal(world, b);
      await world.syncAll();
      for (const device of [a, b]) assert.deepEqual((await device.store.readTask(taskId))!.ui, [...start, say(2000, 'm1')]);
    });
  });

  describe('metadata counters', () => {
    // Seeds 1851, 2207, 2302, 4024, 4363, 4723 (5000 long runs) and 189, 327, 346 (300-600 steps):
    // b raised a counter, queued it, and in the same pull merged a smaller remote value with a
    // later clock. Counters keep the larger value but take the later clock, so the state held
    // b's value under a's clock; outbox recovery looks for own clocks above metaAcked, so a lost
    // journal took b's value with it: b kept 0.715, every other device 0.555.
    it('sends a larger counter a lost journal held even after a remote change with a later clock merged over it', async () => {
      const world = new SimWorld();
      const a = await world.addDevice();
      // b's wall clock runs 5 s behind: its stamps order before a's.
      const { deviceId, token } = world.relay.addDevice(world.userId);
      const b = new SimDevice(1, deviceId, token, world.network, world.blobs, () => world.clock.t - 5000);
      world.devices.push(b);
      await b.start();
      const taskId = 't1' as TaskId;
      const item = { id: taskId, number: 1, ts: 1000, task: 'q', totalCost: 0.1 };
      await a.store.writeTask({ source: 'roo-code', taskId, ui: [{ ts: 1000, type: 'say', say: 'text', text: 'hi' }], api: [], historyItem: item });
      await world.syncAll();
      world.tick(10_000);
      const onA = (await a.store.readTask(taskId))!;
      await a.store.writeTask({ ...onA, historyItem: { ...onA.historyItem!, totalCost: 0.555 } });
      await world.run(a.storage!.syncToCloud());
      const onB = (await b.store.readTask(taskId))!;
      await b.store.writeTask({ ...onB, historyItem: { ...onB.historyItem!, totalCost: 0.715 } });
      // The pull queues b's edit first, then merges a's (later clock, smaller value) over it.
      await world.run(b.storage!.syncFromCloud());
      assert.equal(b.outbox.size, 1);
      await restartWithoutJournal(world, b);
      await world.syncAll();
      assert.equal((await b.store.readTask(taskId))!.historyItem!.totalCost, 0.715);
      assert.equal((await a.store.readTask(taskId))!.historyItem!.totalCost, 0.715);
    });
  });

  describe('notePending', () => {
    const put = (key: string, hash: string, clientSeq: number, baseSeq: number | null = null): ClientChange => ({
      clientSeq,
      baseSeq,
      body: { type: 'stream.put', source: 'roo-code', taskId: 't' as TaskId, stream: 'ui', key, hash, entry: {} },
    });
    const truncate = (afterKey: string, clientSeq: number): ClientChange => ({
      clientSeq,
      baseSeq: null,
      body: { type: 'stream.truncate', source: 'roo-code', taskId: 't' as TaskId, stream: 'ui', afterKey },
    });

    it('records queued puts and truncates the saved state lacks, in queue order', () => {
      const state = new SyncState();
      const task = state.task('roo-code', 't' as TaskId);
      task.streams.ui.set('1:0', { key: '1:0', hash: 'a'.repeat(64), own: false, seq: 3 });
      task.streams.ui.set('2:0', { key: '2:0', hash: 'b'.repeat(64), own: true, seq: 4 });
      const queue = [put('1:0', 'c'.repeat(64), 1, 3), put('3:0', 'd'.repeat(64), 2), truncate('1:0', 3), put('4:0', 'e'.repeat(64), 4)];
      assert.equal(notePending(state, queue), 1);
      assert.deepEqual(trackedList(task, 'ui'), [
        { key: '1:0', hash: 'c'.repeat(64), own: true, seq: 0, base: 3 },
        { key: '4:0', hash: 'e'.repeat(64), own: true, seq: 0 },
      ]);
      assert.deepEqual(task.truncates.ui, ['1:0']);
      // The state now matches the queue: nothing more to record.
      assert.equal(notePending(state, queue), 0);
    });
  });

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
