/**
 * Regression: changes still queued in an outbox journal that was lost were tracked as sent by
 * the sync state and never reached the relay. On the real relay (startRelayServer on PGlite,
 * WebSocket on port 0) with the device's real parts on temp folders (FsTaskStore, FileOutbox,
 * the JSON sync state, RooCloudClient, HybridStorage): the reopened device queues them again,
 * and sending again what the relay already stored (its ack lost with the journal) is harmless.
 */
import assert from 'node:assert/strict';
import { isSyncError } from '../../../core/errors';
import { asTaskId } from '../../../core/ids';
import { useDeviceHarness, usePgliteRelay, type TestDevice } from '../../support/device-harness';
import { createTestUser } from '../../support/sync-relay';

const TASK = asTaskId('1760000000000');
const say = (ts: number, text: string) => ({ ts, type: 'say', say: 'text', text });

describe('a device whose lost outbox journal still held changes, on the real relay (PGlite)', function () {
  this.timeout(20_000);
  const relay = usePgliteRelay();
  const devices = useDeviceHarness(relay.syncUrl, { tempPrefix: 'roo-outbox-recovery-' });

  async function writeTask(device: TestDevice, ui: unknown[], api: unknown[], title: string): Promise<void> {
    await device.store.writeTask({ source: 'roo-code', taskId: TASK, ui, api, historyItem: { id: TASK, ts: 1, task: title } });
  }

  /** a synced the task with b, then queued `ui`, `api` and a new title offline; its journal is then deleted. */
  async function offlineWorkThenLostJournal(resendFirst: boolean) {
    const userId = await createTestUser(relay.db);
    const [credsA, credsB] = [await relay.newDevice(userId), await relay.newDevice(userId)];
    const [dirA, dirB] = [await devices.tempDir(), await devices.tempDir()];
    let a = await devices.openDevice(dirA, credsA);
    const b = await devices.openDevice(dirB, credsB);
    const api = [{ role: 'user', content: 'q1' }, { role: 'assistant', content: 'a1' }, { role: 'user', content: 'q2' }];
    await writeTask(a, [say(1000, 'one'), say(2000, 'two')], api, 'before');
    await a.storage.syncToCloud();
    await b.storage.syncFromCloud();

    a = await devices.reopen(a, { online: false });
    const ui = [say(1000, 'one'), say(2000, 'two, rewritten'), say(3000, 'three'), say(4000, 'four')];
    await writeTask(a, ui, api.slice(0, 1), 'renamed offline');
    await assert.rejects(a.storage.syncToCloud(), (err) => isSyncError(err, 'STORAGE_SYNC_FAILED'));
    const queued = a.outbox.pending();
    assert.equal(queued.length, 5, 'meta, three puts, one truncate');
    if (resendFirst) {
      // The relay stores them, but the acks never reach the journal or the sync state.
      const bare = await devices.onlineClient(credsA);
      // The journal was anchored in the first session: its numbers are new to the relay.
      const outcome = await bare.push(a.outbox.pending());
      assert.equal(outcome.accepted.length, 5);
      await bare.close();
    }
    a = await devices.reopen(a, { loseJournal: true });
    return { a, b, ui, api: api.slice(0, 1), queued };
  }

  it('queues again what the deleted journal held; another device ends up with every change', async () => {
    const { a, b, ui, api } = await offlineWorkThenLostJournal(false);
    const recovery = a.storage.outboxRecovery;
    assert.deepEqual([recovery.checked, recovery.missing, recovery.tasks], [true, 5, 1]);
    const pushed = await a.storage.syncToCloud();
    assert.deepEqual([pushed.queued, pushed.accepted], [0, 5]);
    await b.storage.syncFromCloud();
    const onB = await b.store.readTask(TASK);
    assert.deepEqual(onB?.ui, ui);
    assert.deepEqual(onB?.api, api);
    assert.equal(onB?.historyItem?.task, 'renamed offline');
  });

  it('is harmless when the relay already stored what is sent again (the acks were lost with the journal)', async () => {
    const { a, b, ui, api } = await offlineWorkThenLostJournal(true);
    assert.equal(a.storage.outboxRecovery.missing, 5);
    await a.storage.syncToCloud();
    const puts = (await b.client.pull(0, 1000)).changes.filter((c) => c.body.type === 'stream.put' && c.body.key === '3000:0');
    // Stored a second time under a new clientSeq, with the same content.
    assert.equal(puts.length, 2);
    assert.equal((puts[0]!.body as { hash: string }).hash, (puts[1]!.body as { hash: string }).hash);
    await b.storage.syncFromCloud();
    const onB = await b.store.readTask(TASK);
    assert.deepEqual([onB?.ui, onB?.api, onB?.historyItem?.task], [ui, api, 'renamed offline']);
    // a takes its own changes back without a visible change, and neither device has anything more to send.
    await a.storage.syncFromCloud();
    assert.deepEqual((await a.store.readTask(TASK))?.ui, ui);
    assert.equal((await a.storage.syncToCloud()).queued, 0);
    assert.equal((await b.storage.syncToCloud()).queued, 0);
    assert.equal((await a.storage.validateDataIntegrity()).ok, true);
    assert.equal((await b.storage.validateDataIntegrity()).ok, true);
  });
});
