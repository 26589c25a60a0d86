/** deviceLogPosition / deviceLastClientSeq (server/db/device-client-seq.ts) on the embedded database. */
import assert from 'node:assert/strict';
import { appendChanges, compactLog, logHead } from '../../../server/db/change-log';
import { deviceLastClientSeq, deviceLogPosition } from '../../../server/db/device-client-seq';
import { useMigratedPglite } from '../../support/pglite';
import { filePut, insertUser, newDeviceId, streamPut } from './fixtures';

describe('deviceLastClientSeq (PGlite)', () => {
  const db = useMigratedPglite();
  const future = () => new Date(Date.now() + 60_000);

  it('is 0 for a device that never pushed, and for a user with no log', async () => {
    const user = await insertUser(db());
    assert.equal(await deviceLastClientSeq(db(), user, newDeviceId()), 0);
    await appendChanges(db(), user, newDeviceId(), [streamPut(3, '1:0')]);
    assert.equal(await deviceLastClientSeq(db(), user, newDeviceId()), 0);
  });

  it("is the device's highest stored clientSeq, whatever other devices and users pushed", async () => {
    const [user, other] = [await insertUser(db()), await insertUser(db())];
    const [a, b] = [newDeviceId(), newDeviceId()];
    await appendChanges(db(), user, a, [streamPut(2, '1:0'), streamPut(9, '2:0')]);
    await appendChanges(db(), user, a, [streamPut(2, '1:0')]); // a replay changes nothing
    await appendChanges(db(), user, b, [streamPut(40, '3:0')]);
    await appendChanges(db(), other, a, [streamPut(70, '1:0')]);
    assert.equal(await deviceLastClientSeq(db(), user, a), 9);
    assert.equal(await deviceLastClientSeq(db(), user, b), 40);
  });

  it('does not count a change refused as a conflict', async () => {
    const user = await insertUser(db());
    const [a, b] = [newDeviceId(), newDeviceId()];
    await appendChanges(db(), user, a, [filePut(1, null, 'x.txt', '1'.repeat(64))]);
    await appendChanges(db(), user, b, [filePut(1, 1, 'x.txt', '2'.repeat(64))]);
    const refused = await appendChanges(db(), user, a, [filePut(2, 1, 'x.txt', '3'.repeat(64))]);
    assert.equal(refused.conflicts.length, 1);
    assert.equal(await deviceLastClientSeq(db(), user, a), 1);
  });

  it('still counts changes compaction removed', async () => {
    const user = await insertUser(db());
    const [a, b] = [newDeviceId(), newDeviceId()];
    await appendChanges(db(), user, a, [streamPut(1, '1:0'), streamPut(5, '2:0')]);
    // b rewrites both entries: every change of a is superseded, then compacted away.
    await appendChanges(db(), user, b, [streamPut(1, '1:0'), streamPut(2, '2:0')]);
    assert.equal((await compactLog(db(), user, future())).removed, 2);
    const { rows } = await db().query('SELECT 1 FROM sync_operations WHERE user_id = $1 AND device_id = $2', [user, a]);
    assert.equal(rows.length, 0);
    assert.equal(await deviceLastClientSeq(db(), user, a), 5);
    // Stored changes above the compacted mark win.
    await appendChanges(db(), user, a, [streamPut(6, '3:0')]);
    assert.equal(await deviceLastClientSeq(db(), user, a), 6);
  });

  it("answers the log head (as logHead does) with the device's mark, zeros for a user with no log", async () => {
    const user = await insertUser(db());
    const [a, b] = [newDeviceId(), newDeviceId()];
    assert.deepEqual(await deviceLogPosition(db(), user, a), { head: { seq: 0, compactedSeq: 0, compactedAt: null }, lastClientSeq: 0 });
    await appendChanges(db(), user, a, [streamPut(4, '1:0'), streamPut(5, '2:0')]);
    await appendChanges(db(), user, b, [streamPut(1, '1:0')]);
    await compactLog(db(), user, future());
    const position = await deviceLogPosition(db(), user, a);
    assert.deepEqual(position, { head: await logHead(db(), user), lastClientSeq: 5 });
    assert.equal(position.head.seq, 3);
    assert.equal(position.head.compactedSeq, 1);
    assert.ok(position.head.compactedAt instanceof Date);
  });
});
