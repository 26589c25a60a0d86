/**
 * savedDeviceState (core/node/device/saved-device-state.ts): what `roo-sync status` reads of a
 * device whose files another process holds. It reports; an unreadable journal makes the depth
 * unknown, not the status fail.
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deviceFolder } from '../../../core/node/device/device-folder';
import { savedDeviceState } from '../../../core/node/device/saved-device-state';
import { FileOutbox } from '../../../core/node/outbox/file-outbox';
import { encodeRecord } from '../../../core/outbox/journal-record';
import { filePut, inputs } from '../outbox/fixtures';

describe('savedDeviceState (core/node/device)', () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'roo-saved-device-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('counts the journal of a device that never saved a state, and says why when the journal cannot be counted', async () => {
    const folder = deviceFolder(dataDir, 'device-1');
    assert.deepEqual(await savedDeviceState(dataDir, 'device-1'), { cursor: 0, queued: 0, conflicts: 0, waiting: [] });
    mkdirSync(folder.deviceDir, { recursive: true });
    const outbox = await FileOutbox.open(folder.outbox);
    await outbox.enqueue(inputs(filePut('a'), filePut('b')));
    await outbox.close();
    assert.equal((await savedDeviceState(dataDir, 'device-1')).queued, 2);

    // Records that do not replay (the enqueue appended twice): the depth is not known, and says why.
    const bytes = readFileSync(folder.outbox);
    const head = encodeRecord({ kind: 'head', format: 1, lastSeq: 0, anchored: false, journalId: outbox.journalId }).length;
    appendFileSync(folder.outbox, bytes.subarray(head));
    const saved = await savedDeviceState(dataDir, 'device-1');
    assert.equal(saved.queued, null);
    assert.equal(saved.queuedError?.code, 'OUTBOX_CORRUPT');
  });
});
