/**
 * Regression: changes queued in an outbox journal that was lost before the relay acknowledged
 * them were tracked as sent by the sync state, so they were never detected again and never
 * reached the relay (silent loss). HybridStorage now notices a journal it did not queue into
 * and queues them again. Real parts: FsTaskStore, FileOutbox, FsWorkspaceFiles and the JSON
 * sync state on temp folders, RooCloudClient over a WebSocket to the reference relay.
 */
import assert from 'node:assert/strict';
import { readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isSyncError } from '../../../core/errors';
import { asTaskId, asWorkspaceId, type TaskId } from '../../../core/ids';
import { FsTaskStore } from '../../../core/node/stores/fs-task-store';
import type { TaskSnapshot } from '../../../core/ports/task-store';
import { MemoryBlobStore } from '../../../core/storage/memory-blob-store';
import { findUnsent } from '../../../core/storage/outbox-recovery';
import { SyncState } from '../../../core/storage/sync-state';
import { goOnline, useDeviceHarness, useReferenceRelayHost, type TestDevice } from '../../support/device-harness';
import { withoutKeyed } from '../../support/task-store-conformance';

/** FsTaskStore that counts reads (a re-detection reads tasks; an intact restart must not). */
class CountingStore extends FsTaskStore {
  reads = 0;
  override async readTask(taskId: TaskId): Promise<TaskSnapshot | null> {
    this.reads++;
    return super.readTask(taskId);
  }
}

type Device = TestDevice<CountingStore>;

const TASK = asTaskId('1760000000000');
const GONE = asTaskId('1760000000001');
const NEW = asTaskId('1760000000002');
const say = (ts: number, text: string) => ({ ts, type: 'say', say: 'text', text });
const item = (id: string, extra: Record<string, unknown> = {}) => ({ id, number: 1, ts: 1, task: `task ${id}`, tokensIn: 0, tokensOut: 0, totalCost: 0, ...extra });

describe('findUnsent', () => {
  const stamp = (n: number, device: string) => `${String(1_760_000_000_000 + n).padStart(15, '0')}-000000-${device}`;

  it('lists what the state tracks as queued and unacknowledged, less what the outbox holds', () => {
    const state = new SyncState();
    const task = state.task('roo-code', asTaskId('t'));
    task.fields = { title: 'mine, queued', mode: 'theirs', tokensIn: 3 };
    task.clocks = { title: stamp(2, 'dev-a'), mode: stamp(3, 'dev-b'), tokensIn: stamp(1, 'dev-a') };
    task.metaAcked = stamp(1, 'dev-a');
    task.streams.ui.set('1:0', { key: '1:0', hash: 'a'.repeat(64), own: true, seq: 0 });
    task.streams.ui.set('2:0', { key: '2:0', hash: 'b'.repeat(64), own: true, seq: 5 });
    task.streams.ui.set('3:0', { key: '3:0', hash: 'c'.repeat(64), own: false, seq: 6 });
    task.truncates.api.push('0');
    state.task('roo-code', asTaskId('deleted-here')).deleted = stamp(4, 'dev-a');
    state.task('roo-code', asTaskId('deleted-there')).deleted = stamp(5, 'dev-b');
    const file = { workspaceId: asWorkspaceId('w'), size: 1, mode: 0o644, mtime: 1, binary: false, baseSeq: 3 };
    state.setFile({ ...file, path: 'edited', hash: 'd'.repeat(64), deleted: false, baseHash: 'e'.repeat(64), baseDeleted: false });
    state.setFile({ ...file, path: 'synced', hash: 'e'.repeat(64), deleted: false, baseHash: 'e'.repeat(64), baseDeleted: false });
    state.setFile({ ...file, path: 'removed', hash: 'e'.repeat(64), deleted: true, baseHash: 'e'.repeat(64), baseDeleted: false });
    const held = { body: { type: 'stream.put', source: 'roo-code', taskId: asTaskId('t'), stream: 'ui', key: '1:0', hash: 'a'.repeat(64), entry: {} } as const };

    const unsent = findUnsent(state, 'dev-a', [held]);
    assert.equal(unsent.unacknowledged, 6);
    assert.equal(unsent.missing, 5);
    assert.deepEqual([...unsent.tasks.get('roo-code/t')!.entities].sort(), ['stream/roo-code/t/api', 'task/roo-code/t']);
    assert.deepEqual([...unsent.tasks.get('roo-code/deleted-here')!.entities], ['task/roo-code/deleted-here']);
    assert.equal(unsent.tasks.has('roo-code/deleted-there'), false);
    assert.deepEqual([...unsent.files.get('w')!].sort(), ['edited', 'removed']);

    task.metaAcked = stamp(2, 'dev-a');
    assert.equal(findUnsent(state, 'dev-a', [held]).tasks.get('roo-code/t')!.entities.has('task/roo-code/t'), false);
  });
});

describe('HybridStorage: changes of a lost outbox journal (FileOutbox, reference relay over ws)', () => {
  const host = useReferenceRelayHost();
  // The client anchors the outbox at every welcome (a fresh journal moves above the relay's mark) and drains it.
  const devices = useDeviceHarness(() => host.url, {
    tempPrefix: 'roo-outbox-recovery-',
    workspace: true,
    blobs: new MemoryBlobStore(),
    store: (basePath) => new CountingStore({ source: 'roo-code', basePath }),
  });

  /** syncToCloud on an offline device: the changes are queued durably, the push fails. */
  async function queueOffline(device: Device): Promise<void> {
    await assert.rejects(device.storage.syncToCloud(), (err) => isSyncError(err, 'STORAGE_SYNC_FAILED'));
  }

  /** Two synced devices: `a` contributed two tasks and two files, `b` pulled them. */
  async function syncedPair() {
    const userId = host.relay.addUser();
    const credsA = host.relay.addDevice(userId);
    const credsB = host.relay.addDevice(userId);
    let a = await devices.openDevice(await devices.tempDir(), credsA);
    const b = await devices.openDevice(await devices.tempDir(), credsB);
    const ui = [say(1000, 'one'), say(2000, 'two'), say(3000, 'three'), say(4000, 'four')];
    const api = [{ role: 'user', content: 'q1' }, { role: 'assistant', content: 'a1' }, { role: 'user', content: 'q2' }];
    await a.store.writeTask({ source: 'roo-code', taskId: TASK, ui, api, historyItem: item(TASK) });
    await a.store.writeTask({ source: 'roo-code', taskId: GONE, ui: [say(500, 'soon deleted')], api: [], historyItem: item(GONE) });
    await writeFile(join(a.dir, 'workspace', 'notes.md'), 'notes v1\n');
    await writeFile(join(a.dir, 'workspace', 'old.txt'), 'to be removed\n');
    const first = await a.storage.syncToCloud();
    assert.equal(first.accepted, first.queued);
    await b.storage.syncFromCloud();
    assert.deepEqual(withoutKeyed(await b.store.readTask(TASK)), withoutKeyed(await a.store.readTask(TASK)));
    // Offline from here on: a's next changes are only queued.
    a = await devices.reopen(a, { loseJournal: false, online: false });
    return { userId, a, b, ui, api };
  }

  /** Every kind of change, made and queued while offline. */
  async function workOffline(a: Device, ui: unknown[], api: unknown[]): Promise<void> {
    await a.store.writeTask({
      source: 'roo-code',
      taskId: TASK,
      ui: [...ui.slice(0, 2), say(3000, 'three, rewritten'), ...ui.slice(3), say(5000, 'five'), say(6000, 'six')],
      api: api.slice(0, 1), // "delete from here" on entries a contributed: a truncate
      historyItem: item(TASK, { tokensIn: 42, task: 'renamed offline' }),
    });
    await a.store.writeTask({ source: 'roo-code', taskId: NEW, ui: [say(7000, 'a new task')], api: [{ role: 'user', content: 'new' }], historyItem: item(NEW) });
    await writeFile(join(a.dir, 'workspace', 'notes.md'), 'notes v2, offline\n');
    await writeFile(join(a.dir, 'workspace', 'fresh.md'), 'a new file\n');
    await unlink(join(a.dir, 'workspace', 'old.txt'));
    await queueOffline(a);
    await a.storage.deleteTask('roo-code', GONE);
  }

  it('queues again what a deleted journal still held: after reconnecting, another device has every change', async () => {
    const { a: offline, b, ui, api } = await syncedPair();
    await workOffline(offline, ui, api);
    const queued = offline.outbox.size;
    assert.ok(queued >= 9, `queued ${queued}`);

    const a = await devices.reopen(offline, { loseJournal: true, online: true });
    const recovery = a.storage.outboxRecovery;
    assert.equal(recovery.checked, true);
    assert.equal(recovery.missing, recovery.unacknowledged);
    assert.ok(recovery.missing >= queued, `missing ${recovery.missing}, queued before ${queued}`);
    assert.deepEqual([recovery.tasks, recovery.workspaces], [3, 1]);
    assert.ok(a.outbox.size > 0);

    const pushed = await a.storage.syncToCloud();
    assert.equal(pushed.queued, 0, 'nothing left to detect: the recovery queued it all');
    assert.equal(a.outbox.size, 0);
    await b.storage.syncFromCloud();
    for (const taskId of [TASK, NEW]) assert.deepEqual(withoutKeyed(await b.store.readTask(taskId)), withoutKeyed(await a.store.readTask(taskId)), taskId);
    assert.equal((await b.store.readTask(TASK))?.historyItem?.task, 'renamed offline');
    assert.equal((await b.store.readTask(TASK))?.api.length, 1);
    assert.equal(await b.store.readTask(GONE), null, 'the tombstone arrived');
    assert.equal(await readFile(join(b.dir, 'workspace', 'notes.md'), 'utf8'), 'notes v2, offline\n');
    assert.equal(await readFile(join(b.dir, 'workspace', 'fresh.md'), 'utf8'), 'a new file\n');
    await assert.rejects(readFile(join(b.dir, 'workspace', 'old.txt')), { code: 'ENOENT' });

    // b sends nothing back, and a restart of a with its (new, intact) journal checks nothing.
    assert.equal((await b.storage.syncToCloud()).queued, 0);
    const again = await devices.reopen(a, { loseJournal: false, online: true });
    assert.equal(again.storage.outboxRecovery.checked, false);
    assert.equal(again.store.reads, 0);
    assert.equal((await again.storage.validateDataIntegrity()).ok, true);
    assert.equal((await b.storage.validateDataIntegrity()).ok, true);
  });

  it('checks nothing and reads no task when the journal is the one the state queued into', async () => {
    const { userId, a: offline, b, ui, api } = await syncedPair();
    await workOffline(offline, ui, api);
    const queued = offline.outbox.size;
    const journalId = offline.outbox.journalId;
    assert.ok(journalId);

    const a = await devices.reopen(offline, { loseJournal: false, online: false });
    assert.equal(a.outbox.journalId, journalId);
    assert.deepEqual(a.storage.outboxRecovery, { checked: false, unacknowledged: 0, missing: 0, tasks: 0, workspaces: 0, queued: 0 });
    assert.equal(a.store.reads, 0, 'no task was read while opening');
    assert.equal(a.outbox.size, queued);

    const before = host.relay.serverCursor(userId);
    await goOnline(a.client);
    const pushed = await a.storage.syncToCloud();
    assert.equal(pushed.queued, 0);
    assert.equal(a.outbox.size, 0);
    assert.equal(host.relay.serverCursor(userId), before + queued, 'each queued change stored once');
    await b.storage.syncFromCloud();
    assert.deepEqual(withoutKeyed(await b.store.readTask(TASK)), withoutKeyed(await a.store.readTask(TASK)));
  });

  it('sends nothing again when the lost journal held nothing unacknowledged', async () => {
    const { userId, a: offline } = await syncedPair();
    const a = await devices.reopen(offline, { loseJournal: true, online: true });
    const recovery = a.storage.outboxRecovery;
    assert.equal(recovery.checked, true);
    assert.deepEqual([recovery.unacknowledged, recovery.missing, recovery.queued, recovery.tasks], [0, 0, 0, 0]);
    assert.equal(a.store.reads, 0);
    const head = host.relay.serverCursor(userId);
    assert.equal((await a.storage.syncToCloud()).queued, 0);
    assert.equal(host.relay.serverCursor(userId), head);
    // The state now names the new journal: the next restart does not check again.
    const again = await devices.reopen(a, { loseJournal: false, online: true });
    assert.equal(again.storage.outboxRecovery.checked, false);
  });
});
