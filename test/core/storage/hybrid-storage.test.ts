import assert from 'node:assert/strict';
import { SyncError, isSyncError } from '../../../core/errors';
import type { TaskId } from '../../../core/ids';
import type { ServerChange } from '../../../core/model/changes';
import { hashJson } from '../../../core/model/hash';
import { isConflictCopy } from '../../../core/merge/conflict-copy';
import { asDeviceId, asWorkspaceId } from '../../../core/ids';
import { applyFileChanges } from '../../../core/storage/file-sync';
import { planSlices } from '../../../core/storage/hybrid-storage';
import { MemoryBlobStore } from '../../../core/storage/memory-blob-store';
import { IntegrityCode } from '../../../core/storage/storage-errors';
import { SyncState, TASKS_IN_MEMORY } from '../../../core/storage/sync-state';
import { MemoryWorkspaceFiles } from '../../../core/storage/workspace-files';
import { pullLog } from '../../support/sim/convergence';
import type { SimDevice } from '../../support/sim/sim-device';
import { SimWorld } from '../../support/sim/sim-world';

const enc = (text: string) => new TextEncoder().encode(text);
const dec = (bytes: Uint8Array | undefined) => (bytes ? new TextDecoder().decode(bytes) : undefined);
const ui = (ts: number, text: string) => ({ ts, type: 'say', say: 'text', text });
const item = (id: string, extra: Record<string, unknown> = {}) => ({ id, number: 1, ts: 1, task: 'a task', tokensIn: 0, tokensOut: 0, totalCost: 0, ...extra });

async function log(world: SimWorld): Promise<ServerChange[]> {
  return pullLog(world.relay, world.userId, world.network);
}

async function createTask(device: SimDevice, taskId: string, entries: number): Promise<TaskId> {
  const id = taskId as TaskId;
  await device.store.writeTask({
    source: 'roo-code',
    taskId: id,
    ui: Array.from({ length: entries }, (_, i) => ui(1000 + i, `m${i}`)),
    api: [{ role: 'user', content: 'hi' }],
    historyItem: item(id),
  });
  return id;
}

async function twoDevices(): Promise<{ world: SimWorld; a: SimDevice; b: SimDevice; taskId: TaskId }> {
  const world = new SimWorld();
  const a = await world.addDevice();
  const b = await world.addDevice();
  const taskId = await createTask(a, 't1', 3);
  await world.syncAll();
  return { world, a, b, taskId };
}

describe('HybridStorage', () => {
  describe('#syncFromCloud', () => {
    it('records remote changes before writing them, so nothing is echoed back (no echo)', async () => {
      const { world, b, taskId } = await twoDevices();
      const head = world.relay.serverCursor(world.userId);
      assert.equal((await b.store.readTask(taskId))?.ui.length, 3);
      const report = await world.run(b.storage!.syncToCloud());
      assert.equal(report.queued, 0);
      assert.equal(world.relay.serverCursor(world.userId), head);
      assert.ok((await log(world)).every((c) => c.deviceId !== b.deviceId));
    });

    it("counts as received only other devices' changes, not its own that a pull returns", async () => {
      const { world, a, b, taskId } = await twoDevices();
      // A device skips its own puts that follow its cursor, but its tombstone comes back in a pull.
      await world.run(a.storage!.deleteTask('roo-code', taskId));
      const own = await world.run(a.storage!.syncFromCloud());
      assert.ok(own.applied > 0, 'the pull returns the device its own tombstone');
      assert.equal(own.received, 0);
      const other = await world.run(b.storage!.syncFromCloud());
      assert.ok(other.received > 0);
      assert.equal(other.received, other.applied);
    });

    it('pulls again from 0 when the relay says the cursor is behind its compaction point (CURSOR_COMPACTED)', async () => {
      const { world, a, b, taskId } = await twoDevices();
      await a.store.writeTask({ ...(await a.store.readTask(taskId))!, ui: [...(await a.store.readTask(taskId))!.ui, ui(2000, 'later')] });
      await world.run(a.storage!.syncToCloud());
      const transport = b.transport!;
      const pull = transport.pull.bind(transport);
      const cursors: number[] = [];
      transport.pull = async (cursor, limit) => {
        cursors.push(cursor);
        if (cursor > 0) throw new SyncError('CURSOR_COMPACTED', 'cursor is behind the compaction point');
        return pull(cursor, limit);
      };
      await world.run(b.storage!.syncFromCloud());
      assert.ok(cursors[0]! > 0, `first pull from the old cursor, got ${cursors.join(',')}`);
      assert.equal(cursors[1], 0);
      assert.equal(b.storage!.cursor, world.relay.serverCursor(world.userId));
      assert.deepEqual((await b.store.readTask(taskId))!.ui, (await a.store.readTask(taskId))!.ui);
    });

    it('advances the cursor only after the page is applied', async () => {
      const world = new SimWorld();
      const a = await world.addDevice();
      const b = await world.addDevice();
      const taskId = await createTask(a, 't1', 2);
      await world.run(a.storage!.syncToCloud());
      const write = b.store.writeTask.bind(b.store);
      b.store.writeTask = async () => {
        throw new SyncError('STORE_WRITE_FAILED', 'disk full');
      };
      await assert.rejects(world.run(b.storage!.syncFromCloud()), (err: unknown) => isSyncError(err, 'STORE_WRITE_FAILED'));
      assert.equal(b.storage!.cursor, 0);
      assert.equal((await b.stateStore.load())?.cursor, 0);
      b.store.writeTask = write;
      await world.run(b.storage!.syncFromCloud());
      assert.equal(b.storage!.cursor, world.relay.serverCursor(world.userId));
      assert.equal((await b.store.readTask(taskId))?.ui.length, 2);
    });

    it('finishes a page a crash cut short, at every crash point, without echo or loss', async () => {
      for (let point = 0; point < 24; point++) {
        const world = new SimWorld(point);
        const a = await world.addDevice();
        const b = await world.addDevice();
        const taskId = await createTask(a, 't1', 4);
        await a.files.write('notes.md', enc('one\ntwo\n'), { mode: 0o644, mtime: world.clock.t });
        await world.run(a.storage!.syncToCloud());
        b.armCrash(point);
        await world.run(b.storage!.syncFromCloud()).catch(() => undefined);
        if (b.crashedMidStep) {
          b.kill();
          await b.start();
        } else b.disarmCrash();
        await world.syncAll();
        const expected = await a.store.readTask(taskId);
        assert.deepEqual(await b.store.readTask(taskId), expected, `crash point ${point}`);
        assert.equal(dec(b.files.peek('notes.md')), 'one\ntwo\n', `crash point ${point}`);
        assert.ok((await log(world)).every((c) => c.deviceId !== b.deviceId), `echo at crash point ${point}`);
      }
    });

    it('keeps its own newer entry when an older truncate arrives later', async () => {
      const { world, a, b, taskId } = await twoDevices();
      // a cuts after the first entry; b (not yet knowing) rewrites entry 3 later: b's put is newer.
      const taskA = (await a.store.readTask(taskId))!;
      await a.store.writeTask({ ...taskA, ui: taskA.ui.slice(0, 1) });
      await world.run(a.storage!.syncToCloud());
      const taskB = (await b.store.readTask(taskId))!;
      taskB.ui[2] = { ...(taskB.ui[2] as object), text: 'b was here' };
      await b.store.writeTask(taskB);
      await world.run(b.storage!.syncToCloud());
      await world.syncAll();
      const ta = (await a.store.readTask(taskId))!;
      assert.deepEqual(ta, await b.store.readTask(taskId));
      assert.deepEqual(ta.ui.map((m) => (m as { text: string }).text), ['m0', 'b was here']);
    });
  });

  describe('#applyLiveChanges', () => {
    it('applies live changes that follow the cursor without a pull, and pulls when they leave a gap', async () => {
      const { world, a, b, taskId } = await twoDevices();
      const transport = b.transport!;
      const pull = transport.pull.bind(transport);
      let pulls = 0;
      transport.pull = (cursor, limit) => {
        pulls++;
        return pull(cursor, limit);
      };
      const appendOnA = async (ts: number, text: string) => {
        const task = (await a.store.readTask(taskId))!;
        await a.store.writeTask({ ...task, ui: [...task.ui, ui(ts, text)] });
        await world.run(a.storage!.syncToCloud());
        return (await log(world)).filter((c) => c.seq > (b.storage!.cursor));
      };
      const texts = async () => (await b.store.readTask(taskId))!.ui.map((m) => (m as { text: string }).text);

      const next = await appendOnA(3000, 'live one');
      await world.run(b.storage!.applyLiveChanges(next));
      assert.equal(pulls, 0);
      assert.ok((await texts()).includes('live one'));
      assert.equal(b.storage!.cursor, world.relay.serverCursor(world.userId));

      // The live page of 'lost' never came: the next one leaves a gap, so b pulls both.
      await appendOnA(4000, 'lost');
      const after = (await appendOnA(5000, 'live two')).filter((c) => c.body.type === 'stream.put' && c.body.key.startsWith('5000'));
      await world.run(b.storage!.applyLiveChanges(after));
      assert.equal(pulls, 1);
      assert.deepEqual((await texts()).slice(-3), ['live one', 'lost', 'live two']);
      assert.equal(b.storage!.cursor, world.relay.serverCursor(world.userId));
      const quiet = await world.run(b.storage!.syncToCloud());
      assert.equal(quiet.queued, 0);
    });
  });

  describe('#syncToCloud', () => {
    it('restores entries from another device that a stale rewrite dropped (a stale rewrite is not a deletion)', async () => {
      const { world, a, b, taskId } = await twoDevices();
      const stale = (await b.store.readTask(taskId))!;
      const taskA = (await a.store.readTask(taskId))!;
      await a.store.writeTask({ ...taskA, ui: [...taskA.ui, ui(2000, 'from a')] });
      await world.run(a.storage!.syncToCloud());
      await world.run(b.storage!.syncFromCloud());
      await b.store.writeTask({ ...stale, ui: [...stale.ui, ui(3000, 'from b')] });
      await world.run(b.storage!.syncToCloud());
      const texts = (await b.store.readTask(taskId))!.ui.map((m) => (m as { text: string }).text);
      assert.deepEqual(texts, ['m0', 'm1', 'm2', 'from a', 'from b']);
      assert.ok((await log(world)).every((c) => c.body.type !== 'stream.truncate'));
      await world.syncAll();
      assert.deepEqual(await a.store.readTask(taskId), await b.store.readTask(taskId));
    });

    it('restores a remote rewrite of an entry that a stale rewrite brought back to its old version', async () => {
      const { world, a, b, taskId } = await twoDevices();
      const stale = (await b.store.readTask(taskId))!;
      const taskA = (await a.store.readTask(taskId))!;
      taskA.ui[2] = { ...(taskA.ui[2] as object), text: 'finished on a' };
      await a.store.writeTask(taskA);
      await world.run(a.storage!.syncToCloud());
      await world.run(b.storage!.syncFromCloud());
      const head = world.relay.serverCursor(world.userId);
      await b.store.writeTask(stale);
      const report = await world.run(b.storage!.syncToCloud());
      assert.equal(report.queued, 0);
      assert.equal(world.relay.serverCursor(world.userId), head);
      assert.equal(((await b.store.readTask(taskId))!.ui[2] as { text: string }).text, 'finished on a');
    });

    it('never deletes anything when the store or the task is empty (empty is not a deletion)', async () => {
      const { world, a, b, taskId } = await twoDevices();
      const wiped = (await b.store.readTask(taskId))!;
      await b.store.writeTask({ ...wiped, ui: [], api: [] });
      await world.run(b.storage!.syncToCloud());
      assert.ok((await log(world)).every((c) => c.body.type !== 'stream.truncate'));
      assert.equal((await b.store.readTask(taskId))!.ui.length, 3);
      // A new device with an empty store deletes nothing either: it just receives everything.
      const c = await world.addDevice();
      await world.run(c.storage!.syncToCloud());
      await world.syncAll();
      assert.equal((await a.store.readTask(taskId))!.ui.length, 3);
      assert.deepEqual(await c.store.readTask(taskId), await a.store.readTask(taskId));
    });

    it('sends a truncate for its own "delete from here", which other devices apply', async () => {
      const { world, a, b, taskId } = await twoDevices();
      const task = (await a.store.readTask(taskId))!;
      await a.store.writeTask({ ...task, ui: task.ui.slice(0, 1) });
      await world.run(a.storage!.syncToCloud());
      const truncates = (await log(world)).filter((c) => c.body.type === 'stream.truncate');
      assert.equal(truncates.length, 1);
      await world.run(b.storage!.syncFromCloud());
      assert.deepEqual((await b.store.readTask(taskId))!.ui, task.ui.slice(0, 1));
    });

    it('compares only the named tasks when a watcher passes them', async () => {
      const { world, a, taskId } = await twoDevices();
      const other = await createTask(a, 't2', 1);
      const task = (await a.store.readTask(taskId))!;
      await a.store.writeTask({ ...task, ui: [...task.ui, ui(4000, 'new')] });
      const report = await world.run(a.storage!.syncToCloud({ tasks: [{ source: 'roo-code', taskId }], files: false }));
      assert.equal(report.queued, 1);
      const later = await world.run(a.storage!.syncToCloud());
      assert.ok(later.queued > 1, `the other task ${other} is found by a full scan`);
    });

    it('replays a change queued before a crash exactly once, wherever the crash falls', async () => {
      for (let point = 0; point < 12; point++) {
        const { world, a, taskId } = await twoDevices();
        await a.storage!.saveMessages('roo-code', taskId, 'ui', [...(await a.store.readTask(taskId))!.ui, ui(5000, 'queued')]);
        assert.equal(a.outbox.size, 1);
        a.armCrash(point);
        await world.run(a.storage!.syncToCloud()).catch(() => undefined);
        if (a.crashedMidStep) {
          a.kill();
          await a.start();
        } else a.disarmCrash();
        await world.syncAll();
        const puts = (await log(world)).filter((c) => c.body.type === 'stream.put' && c.body.key === '5000:0');
        assert.equal(puts.length, 1, `crash point ${point}`);
        assert.equal(a.outbox.size, 0);
      }
    });
  });

  describe('metadata', () => {
    it('merges concurrent edits per field, counters taking the maximum', async () => {
      const { world, a, b, taskId } = await twoDevices();
      const ta = (await a.store.readTask(taskId))!;
      await a.store.writeTask({ ...ta, historyItem: { ...ta.historyItem!, tokensIn: 500, task: 'renamed on a' } });
      world.tick();
      const tb = (await b.store.readTask(taskId))!;
      await b.store.writeTask({ ...tb, historyItem: { ...tb.historyItem!, tokensIn: 200, mode: 'architect' } });
      await world.run(a.storage!.syncToCloud());
      await world.run(b.storage!.syncToCloud());
      await world.syncAll();
      const ha = (await a.store.readTask(taskId))!.historyItem!;
      assert.deepEqual(ha, (await b.store.readTask(taskId))!.historyItem);
      assert.equal(ha.tokensIn, 500);
      assert.equal(ha.task, 'renamed on a');
      assert.equal(ha.mode, 'architect');
    });
  });

  describe('workspace files', () => {
    async function withFile(text: string | Uint8Array) {
      const world = new SimWorld();
      const a = await world.addDevice();
      const b = await world.addDevice();
      const bytes = typeof text === 'string' ? enc(text) : text;
      await a.files.write('f.txt', bytes, { mode: 0o644, mtime: world.clock.t });
      await world.syncAll();
      return { world, a, b };
    }

    it('merges concurrent edits of different lines of a text file', async () => {
      const { world, a, b } = await withFile('1\n2\n3\n4\n5\n');
      await a.files.write('f.txt', enc('1 a\n2\n3\n4\n5\n'), { mode: 0o644, mtime: world.clock.t + 1 });
      await b.files.write('f.txt', enc('1\n2\n3\n4\n5 b\n'), { mode: 0o644, mtime: world.clock.t + 2 });
      await world.run(a.storage!.syncToCloud());
      await world.run(b.storage!.syncToCloud());
      await world.syncAll();
      assert.equal(dec(a.files.peek('f.txt')), '1 a\n2\n3\n4\n5 b\n');
      assert.equal(dec(b.files.peek('f.txt')), '1 a\n2\n3\n4\n5 b\n');
      assert.equal(b.storage!.fileConflicts.length, 0);
    });

    it('keeps the local text and the remote version as a conflict copy when edits overlap', async () => {
      const { world, a, b } = await withFile('1\n2\n3\n');
      await a.files.write('f.txt', enc('1\nA\n3\n'), { mode: 0o644, mtime: world.clock.t + 1 });
      await b.files.write('f.txt', enc('1\nB\n3\n'), { mode: 0o644, mtime: world.clock.t + 2 });
      await world.run(a.storage!.syncToCloud());
      await world.run(b.storage!.syncToCloud());
      await world.syncAll();
      assert.equal(dec(b.files.peek('f.txt')), '1\nB\n3\n');
      assert.equal(dec(a.files.peek('f.txt')), '1\nB\n3\n');
      const [conflict] = b.storage!.fileConflicts;
      assert.ok(conflict && isConflictCopy(conflict.copyPath));
      assert.equal(dec(b.files.peek(conflict.copyPath)), '1\nA\n3\n');
      assert.ok(!a.files.paths().some(isConflictCopy), 'conflict copies stay on the device that resolved');
    });

    it('keeps the newer binary version and the older one as a conflict copy', async () => {
      const { world, a, b } = await withFile(new Uint8Array([0, 1, 2]));
      await a.files.write('f.txt', new Uint8Array([0, 9, 9]), { mode: 0o644, mtime: world.clock.t + 50 });
      await b.files.write('f.txt', new Uint8Array([0, 7, 7]), { mode: 0o644, mtime: world.clock.t + 10 });
      await world.run(a.storage!.syncToCloud());
      await world.run(b.storage!.syncToCloud());
      await world.syncAll();
      assert.deepEqual([...b.files.peek('f.txt')!], [0, 9, 9]);
      assert.deepEqual([...a.files.peek('f.txt')!], [0, 9, 9]);
      const [conflict] = b.storage!.fileConflicts;
      assert.equal(conflict?.kind, 'binary');
      assert.deepEqual([...b.files.peek(conflict!.copyPath)!], [0, 7, 7]);
    });
  });

  describe('remote paths', () => {
    it('refuses a remote file change whose path is not a safe relative path', async () => {
      const state = new SyncState();
      const files = new MemoryWorkspaceFiles(asWorkspaceId('w'));
      const blobs = new MemoryBlobStore();
      const ctx = { deviceId: asDeviceId('d'), state, entryCache: blobs, blobs, stamp: () => '', observe: () => undefined, now: () => 0 };
      const change = (path: string, seq: number): ServerChange => ({
        seq,
        clientSeq: seq,
        baseSeq: null,
        deviceId: asDeviceId('other'),
        entity: `file/w/${path}`,
        body: { type: 'file.put', workspaceId: asWorkspaceId('w'), path, hash: 'a'.repeat(64), size: 1, mode: 0o644, mtime: 1, binary: false },
      });
      const refused = await applyFileChanges(ctx, files, [change('../escape.txt', 1), change('/etc/passwd', 2), change('a/./b.txt', 3)], {
        entities: new Set(),
        truncates: new Map(),
      });
      assert.deepEqual(refused, ['../escape.txt', '/etc/passwd', 'a/./b.txt']);
      assert.deepEqual(files.paths(), []);
    });
  });

  describe('errors', () => {
    it('refuses a source without a store with STORAGE_UNKNOWN_SOURCE', async () => {
      const world = new SimWorld();
      const a = await world.addDevice();
      await assert.rejects(a.storage!.saveMessages('cline', 't1' as TaskId, 'ui', []), (err: unknown) => isSyncError(err, 'STORAGE_UNKNOWN_SOURCE'));
    });

    it('stops a pull with STORAGE_BLOB_MISSING when a file version is not in the blob store yet', async () => {
      const world = new SimWorld();
      const a = await world.addDevice();
      await a.files.write('f.txt', enc('hello'), { mode: 0o644, mtime: 1 });
      const b = await world.addDevice();
      await world.run(a.storage!.syncToCloud());
      const get = world.blobs.get.bind(world.blobs);
      world.blobs.get = async () => null;
      await assert.rejects(world.run(b.storage!.syncFromCloud()), (err: unknown) => isSyncError(err, 'STORAGE_BLOB_MISSING'));
      assert.equal(b.storage!.cursor, 0);
      world.blobs.get = get;
      await world.run(b.storage!.syncFromCloud());
      assert.equal(dec(b.files.peek('f.txt')), 'hello');
    });
  });

  describe('#validateDataIntegrity', () => {
    it('reports an unsynced edit by code and is clean after syncing', async () => {
      const { world, a, taskId } = await twoDevices();
      assert.equal((await world.run(a.storage!.validateDataIntegrity())).ok, true);
      const task = (await a.store.readTask(taskId))!;
      task.ui[1] = ui(1001, 'edited');
      await a.store.writeTask(task);
      const report = await a.storage!.validateDataIntegrity();
      assert.equal(report.ok, false);
      assert.deepEqual(report.problems.map((p) => [p.code, p.key]), [[IntegrityCode.ENTRY_HASH_MISMATCH, '1001:0']]);
      await world.syncAll();
      assert.equal((await a.storage!.validateDataIntegrity()).ok, true);
    });
  });

  describe('#migrateLocalTasksToCloud', () => {
    it('uploads every existing task and reports progress', async () => {
      const world = new SimWorld();
      const a = await world.addDevice();
      for (let i = 0; i < 3; i++) await createTask(a, `old${i}`, 2);
      const progress: string[] = [];
      const report = await world.run(a.storage!.migrateLocalTasksToCloud((p) => progress.push(`${p.phase}:${p.done}/${p.total}`)));
      assert.equal(report.tasks, 3);
      assert.equal(report.pushed.accepted, 3 * 4);
      assert.deepEqual(progress, ['scan:3/3', 'push:3/3']);
      const b = await world.addDevice();
      await world.run(b.storage!.syncFromCloud());
      assert.deepEqual(await b.store.listTaskIds(), ['old0', 'old1', 'old2']);
    });
  });

  describe('#migrateLocalTasksToCloud (streamed)', () => {
    it('pushes a slice while it detects the next, keeps the outbox at most two slices, and stops on abort', async () => {
      const world = new SimWorld();
      const a = await world.addDevice();
      for (let i = 0; i < 6; i++) await createTask(a, `s${i}`, 3);
      const controller = new AbortController();
      const sizes: number[] = [];
      const phases: string[] = [];
      const report = await world.run(
        a.storage!.migrateLocalTasksToCloud({
          sliceTasks: 2,
          signal: controller.signal,
          onProgress: (p) => {
            sizes.push(a.storage!.pendingCount);
            phases.push(`${p.phase}:${p.done}`);
            // Asked to stop while the second slice is pushed: that push ends, no third slice starts.
            if (p.phase === 'scan' && p.done === 4) controller.abort();
          },
        }),
      );
      assert.equal(report.aborted, true);
      assert.deepEqual(phases, ['scan:2', 'scan:4', 'push:2', 'push:4']);
      // Slice 2 is queued while slice 1 is pushed (the simulated relay answers once both are queued).
      assert.deepEqual(sizes, [10, 20, 0, 0]);
      const rest = await world.run(a.storage!.migrateLocalTasksToCloud({ sliceTasks: 2 }));
      assert.equal(rest.queued, 10, 'only the two tasks left');
      assert.equal((await world.run(a.storage!.migrateLocalTasksToCloud())).queued, 0);
      const changes = await log(world);
      assert.equal(changes.length, 30);
      assert.equal(new Set(changes.map((c) => c.entity)).size, 30, 'each change once');
    });

    it('neither loses nor doubles a change when a crash cuts it short, wherever the crash falls', async () => {
      let crashed = 0;
      for (let point = 0; point < 60; point++) {
        const world = new SimWorld();
        const a = await world.addDevice();
        for (let i = 0; i < 6; i++) await createTask(a, `c${i}`, 3);
        // An entry cache that takes a turn of the event loop to answer: push replies are
        // delivered and settled (their state saves included) while a slice is being detected.
        const cache = a.entryCache;
        a.entryCache = Object.assign(Object.create(cache) as typeof cache, {
          has: async (hash: string) => {
            await new Promise((resolve) => setImmediate(resolve));
            return cache.has(hash);
          },
        });
        a.kill();
        await a.start();
        a.armCrash(point);
        await world.run(a.storage!.migrateLocalTasksToCloud({ sliceTasks: 2 })).catch(() => undefined);
        if (a.crashedMidStep) {
          crashed++;
          a.kill();
          await a.start();
          for (let spin = 0; spin < 20 && !a.transport!.ready; spin++) await world.run(Promise.resolve());
        } else a.disarmCrash();
        // The rerun resumes: what the crash left queued goes first, then what was not detected.
        await world.run(a.storage!.migrateLocalTasksToCloud({ sliceTasks: 2 }));
        await world.syncAll();
        const changes = await log(world);
        assert.equal(new Set(changes.map((c) => c.entity)).size, 30, `every change, crash point ${point}`);
        assert.equal(changes.length, 30, `each change once, crash point ${point}`);
        assert.equal(a.outbox.size, 0);
      }
      assert.ok(crashed >= 10, `${crashed} runs crashed`);
    });

    it('cuts slices by task count and by bytes; a task over the byte bound goes alone', () => {
      const sizes = [3, 3, 3, 9, 1, 1, 1, 1, 1];
      const cut = (maxTasks: number, maxBytes: number) => planSlices(sizes.length, (i) => sizes[i]!, maxTasks, maxBytes).map((s) => sizes.slice(s.start, s.end));
      assert.deepEqual(cut(50, 6), [[3, 3], [3], [9], [1, 1, 1, 1, 1]]);
      assert.deepEqual(cut(2, Infinity), [[3, 3], [3, 9], [1, 1], [1, 1], [1]]);
      assert.deepEqual(planSlices(0, () => 0, 5, 5), []);
    });

    it('leaves the uploaded entries out of the entry cache (the relay holds them)', async () => {
      const world = new SimWorld();
      const a = await world.addDevice();
      const taskId = await createTask(a, 'uploaded', 3);
      await world.run(a.storage!.migrateLocalTasksToCloud());
      const task = (await a.store.readTask(taskId))!;
      for (const entry of [...task.ui, ...task.api]) assert.equal(await a.entryCache.has(hashJson(entry)), false);
      const b = await world.addDevice();
      await world.run(b.storage!.syncFromCloud());
      assert.deepEqual((await b.store.readTask(taskId))!.ui, task.ui);
    });

    it('keeps at most a working set of task states in memory, whatever the number of tasks', async () => {
      const world = new SimWorld();
      const a = await world.addDevice();
      const tasks = TASKS_IN_MEMORY + 30;
      for (let i = 0; i < tasks; i++) await createTask(a, `m${i}`, 2);
      const held: number[] = [];
      const report = await world.run(a.storage!.migrateLocalTasksToCloud({ sliceTasks: 10, onProgress: (p) => p.phase === 'push' && held.push(a.storage!.tasksInMemory) }));
      assert.equal(report.queued, tasks * 4);
      assert.ok(Math.max(...held) <= TASKS_IN_MEMORY, `held ${Math.max(...held)}`);
      assert.ok(a.storage!.tasksInMemory <= TASKS_IN_MEMORY);
      assert.equal((await world.run(a.storage!.migrateLocalTasksToCloud())).queued, 0, 'the tasks no longer in memory are still known as sent');
      assert.equal(new Set((await log(world)).map((c) => c.entity)).size, tasks * 4);
    });

    it('keeps what the relay acknowledged when the link drops mid-push; a rerun sends the rest once', async () => {
      const world = new SimWorld();
      const a = await world.addDevice();
      for (let i = 0; i < 4; i++) await createTask(a, `d${i}`, 3);
      const transport = a.transport!;
      const push = transport.push.bind(transport);
      let calls = 0;
      transport.push = async (changes) => {
        if (++calls === 3) transport.disconnect();
        return push(changes);
      };
      await assert.rejects(world.run(a.storage!.migrateLocalTasksToCloud({ sliceTasks: 1 })), (e: unknown) => isSyncError(e, 'STORAGE_SYNC_FAILED'));
      transport.push = push;
      transport.connect();
      await world.run(a.storage!.migrateLocalTasksToCloud({ sliceTasks: 1 }));
      const changes = await log(world);
      assert.equal(changes.length, 20);
      assert.equal(new Set(changes.map((c) => c.entity)).size, 20, 'each change once');
    });
  });

  describe('#deleteTask', () => {
    it('deletes the task on every device through a tombstone', async () => {
      const { world, a, b, taskId } = await twoDevices();
      await world.run(a.storage!.deleteTask('roo-code', taskId));
      await world.syncAll();
      assert.equal(await b.store.readTask(taskId), null);
      assert.equal(await a.store.readTask(taskId), null);
    });
  });

  describe('#close', () => {
    it('refuses calls after close with STORAGE_CLOSED and can be called twice', async () => {
      const world = new SimWorld();
      const a = await world.addDevice();
      await a.storage!.close();
      await a.storage!.close();
      await assert.rejects(a.storage!.syncToCloud(), (err: unknown) => isSyncError(err, 'STORAGE_CLOSED'));
    });
  });
});
