/**
 * Regression: a device that lost its outbox journal numbered its changes from 1 again, and the
 * relay answered them as replays of what it already held under those numbers (acked, never
 * stored). The real relay (startRelayServer on PGlite, WebSocket on port 0) now names the
 * device's highest accepted clientSeq in the welcome, and the outbox moves above it before
 * pushing. Real parts on the device: FsTaskStore, FileOutbox and the JSON sync state on temp
 * folders, RooCloudClient, HybridStorage.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { asTaskId, asUserId, type TaskId } from '../../../core/ids';
import type { ChangeBody } from '../../../core/model/changes';
import { FileOutbox } from '../../../core/node/outbox/file-outbox';
import { compactProjected } from '../../support/compaction';
import { waitUntil } from '../../core/client/client-harness';
import { useDeviceHarness, usePgliteRelay, type TestDevice } from '../../support/device-harness';
import { createTestUser } from '../../support/sync-relay';

const TASK = asTaskId('1760000000000');
const future = () => new Date(Date.now() + 60_000);

describe('a device that lost its outbox journal, on the real relay (PGlite)', function () {
  this.timeout(20_000);
  const relay = usePgliteRelay();
  const devices = useDeviceHarness(relay.syncUrl, { tempPrefix: 'roo-outbox-loss-' });

  function message(ts: number, text: string): Record<string, unknown> {
    return { ts, type: 'say', say: 'text', text };
  }

  async function writeUi(device: TestDevice, ui: unknown[]): Promise<void> {
    await device.store.writeTask({ source: 'roo-code', taskId: TASK, ui, api: [], historyItem: { id: TASK, ts: 1, task: 'lost journal' } });
  }

  it('pushes the changes made after the journal was deleted, and another device pulls them', async () => {
    const userId = await createTestUser(relay.db);
    const [credsA, credsB] = [await relay.newDevice(userId), await relay.newDevice(userId)];
    const [dirA, dirB] = [await devices.tempDir(), await devices.tempDir()];
    let a = await devices.openDevice(dirA, credsA);
    const b = await devices.openDevice(dirB, credsB);

    const ui = [message(1000, 'one'), message(2000, 'two'), message(3000, 'three')];
    await writeUi(a, ui);
    const first = await a.storage.syncToCloud();
    assert.ok(first.accepted >= 4, `accepted ${first.accepted}`);
    // A rewrite supersedes a change of a, and compaction removes it from the log.
    ui[1] = message(2000, 'two, edited');
    await writeUi(a, ui);
    assert.equal((await a.storage.syncToCloud()).accepted, 1);
    assert.ok((await compactProjected(relay.db, asUserId(userId), future())).removed >= 1);
    await b.storage.syncFromCloud();
    assert.deepEqual((await b.store.readTask(TASK))?.ui, ui);

    // Between runs the journal goes (the rest of the device's state stays).
    a = await devices.reopen(a, { loseJournal: true });
    assert.equal(a.outbox.anchored, true, 'anchored at the welcome');

    ui.push(message(4000, 'four, after the journal was lost'));
    await writeUi(a, ui);
    const after = await a.storage.syncToCloud();
    assert.deepEqual([after.queued, after.accepted], [1, 1]);
    await b.storage.syncFromCloud();
    assert.deepEqual((await b.store.readTask(TASK))?.ui, ui);
    assert.equal(a.outbox.size, 0);
  });

  it('stores a change re-sent after its ack was lost once, also when compaction removed it meanwhile', async () => {
    const userId = await createTestUser(relay.db);
    const [credsA, credsB] = [await relay.newDevice(userId), await relay.newDevice(userId)];
    const path = join(await devices.tempDir(), 'outbox.journal');
    const put = (key: number, content: string): { body: ChangeBody; baseSeq: null } => ({
      baseSeq: null,
      body: { type: 'stream.put', source: 'roo-code', taskId: TASK as TaskId, stream: 'api', key: String(key), hash: 'd'.repeat(64), entry: { content } },
    });

    const outbox = await FileOutbox.open(path);
    devices.closeAfter(() => outbox.close());
    const anchoring = await devices.onlineClient(credsA, { outbox });
    await anchoring.close();
    const queued = await outbox.enqueue([put(0, 'a'), put(1, 'b'), put(2, 'c')]);
    // Pushed and stored, but the acks never reached the journal.
    const bare = await devices.onlineClient(credsA);
    assert.deepEqual((await bare.push(queued)).accepted.map((x) => x.clientSeq), [1, 2, 3]);
    await bare.close();
    // Meanwhile another device rewrites entry 0 and compaction removes a's version of it.
    const other = await devices.onlineClient(credsB);
    await other.push([{ clientSeq: 1, ...put(0, 'a, from b') }]);
    assert.equal((await compactProjected(relay.db, asUserId(userId), future())).removed, 1);

    const anchors: unknown[] = [];
    const client = await devices.onlineClient(credsA, { outbox });
    client.onOutboxAnchored((outcome) => anchors.push(outcome));
    await waitUntil(() => outbox.size === 0, 'the re-sent changes acknowledged', 10_000);
    assert.deepEqual(anchors, [], 'nothing renumbered: the counter was at the relay mark');

    const log = (await other.pull(0, 1000)).changes;
    assert.deepEqual(
      log.map((c) => [c.deviceId === credsA.deviceId ? 'a' : 'b', c.clientSeq]),
      [
        ['a', 2],
        ['a', 3],
        ['b', 1],
      ],
    );
  });
});
