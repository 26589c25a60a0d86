import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { hasNativeCrc32, nativeChecksum } from '../../../core/node/outbox/native-crc32';
import { crc32 } from '../../../core/outbox/crc32';
import { decodeJournal, encodeRecord, encodeRecords, type JournalRecord } from '../../../core/outbox/journal-record';

describe('nativeChecksum', () => {
  it('is zlib.crc32 on this Node (>= 20.15)', () => {
    assert.equal(hasNativeCrc32, true);
  });

  it('gives the pure crc32 values, so journals written by either read with the other', () => {
    assert.equal(nativeChecksum(new TextEncoder().encode('The quick brown fox jumps over the lazy dog')), 0x414fa339);
    for (const length of [0, 1, 3, 4, 7, 64, 1000, 65_537]) {
      const bytes = randomBytes(length);
      const view = new Uint8Array(bytes).subarray(Math.min(1, length));
      assert.equal(nativeChecksum(bytes), crc32(bytes), `length ${length}`);
      assert.equal(nativeChecksum(view), crc32(view), `subarray of length ${view.length}`);
    }
    const records: JournalRecord[] = [
      { kind: 'head', format: 1, lastSeq: 0, anchored: false, journalId: 'j' },
      { kind: 'ack', seqs: [1, 2, 3] },
    ];
    assert.deepEqual(encodeRecords(records, nativeChecksum), encodeRecords(records));
    assert.deepEqual(decodeJournal(encodeRecords(records), nativeChecksum).records, records);
    assert.deepEqual(encodeRecord({ kind: 'anchor', after: 9 }, nativeChecksum), encodeRecord({ kind: 'anchor', after: 9 }));
  });
});
