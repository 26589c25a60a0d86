import assert from 'node:assert/strict';
import { crc32 } from '../../../core/outbox/crc32';
import {
  decodeJournal,
  encodeRecord,
  encodeRecords,
  RECORD_HEADER_BYTES,
  type JournalRecord,
} from '../../../core/outbox/journal-record';
import { filePut, taskMeta } from './fixtures';

const head: JournalRecord = { kind: 'head', format: 1, lastSeq: 7 };
const enqueue: JournalRecord = {
  kind: 'enqueue',
  changes: [
    { clientSeq: 8, baseSeq: null, body: filePut('a.txt') },
    { clientSeq: 9, baseSeq: 3, body: taskMeta('t1', { title: 'héllo ✓' }, 'c1') },
  ],
  drop: [5],
};
const ack: JournalRecord = { kind: 'ack', seqs: [8] };
const freshHead: JournalRecord = { kind: 'head', format: 1, lastSeq: 0, anchored: false };
const anchor: JournalRecord = { kind: 'anchor', after: 41 };

describe('crc32', () => {
  it('matches the standard check value for "123456789"', () => {
    assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
  });
  it('is 0 for no bytes', () => {
    assert.equal(crc32(new Uint8Array(0)), 0);
  });
});

describe('journal records', () => {
  describe('#decodeJournal', () => {
    it('round-trips every record kind and reports their sizes', () => {
      const records = [head, enqueue, ack, anchor];
      const bytes = encodeRecords(records);
      const decoded = decodeJournal(bytes);
      assert.equal(decoded.defect, null);
      assert.deepEqual(decoded.records, records);
      assert.equal(decoded.validEnd, bytes.length);
      assert.deepEqual(
        decoded.sizes,
        records.map((r) => encodeRecord(r).length),
      );
      assert.deepEqual(decodeJournal(encodeRecord(freshHead)).records, [freshHead]);
    });

    it('decodes an empty input as no records', () => {
      assert.deepEqual(decodeJournal(new Uint8Array(0)), { records: [], sizes: [], validEnd: 0, defect: null });
    });

    it('treats every cut inside the last record as a torn tail and keeps the prefix', () => {
      const prefix = encodeRecords([head, enqueue]);
      const whole = encodeRecords([head, enqueue, ack]);
      for (let cut = prefix.length + 1; cut < whole.length; cut++) {
        const decoded = decodeJournal(whole.subarray(0, cut));
        assert.equal(decoded.defect?.kind, 'torn', `cut at ${cut}`);
        assert.equal(decoded.validEnd, prefix.length);
        assert.deepEqual(decoded.records, [head, enqueue]);
      }
    });

    it('treats a zero-filled tail as torn', () => {
      const good = encodeRecords([head, ack]);
      const bytes = new Uint8Array(good.length + 4096);
      bytes.set(good);
      const decoded = decodeJournal(bytes);
      assert.equal(decoded.defect?.code, 'ZERO_FILL');
      assert.equal(decoded.defect?.kind, 'torn');
      assert.equal(decoded.validEnd, good.length);
    });

    it('treats a damaged payload in the last record as torn', () => {
      const bytes = encodeRecords([head, ack]);
      bytes[bytes.length - 2] ^= 0xff;
      const decoded = decodeJournal(bytes);
      assert.equal(decoded.defect?.code, 'TAIL_CHECKSUM');
      assert.equal(decoded.defect?.kind, 'torn');
      assert.deepEqual(decoded.records, [head]);
    });

    it('reports a damaged payload with records behind it as corrupt', () => {
      const bytes = encodeRecords([head, enqueue, ack]);
      const at = encodeRecord(head).length + RECORD_HEADER_BYTES + 10;
      bytes[at] ^= 0x01;
      const decoded = decodeJournal(bytes);
      assert.equal(decoded.defect?.kind, 'corrupt');
      assert.equal(decoded.defect?.code, 'PAYLOAD_CHECKSUM');
      assert.equal(decoded.defect?.offset, encodeRecord(head).length);
      assert.deepEqual(decoded.records, [head]);
    });

    it('reports a damaged length as corrupt instead of reading past it', () => {
      const bytes = encodeRecords([head, enqueue, ack]);
      const at = encodeRecord(head).length;
      bytes[at + 1] ^= 0x40; // length grows by 16 KiB: would look like a cut-short payload
      const decoded = decodeJournal(bytes);
      assert.equal(decoded.defect?.code, 'HEADER_CHECKSUM');
      assert.equal(decoded.defect?.kind, 'corrupt');
    });

    it('reports a well-framed payload that is not a journal record as corrupt', () => {
      const bogus = frame(new TextEncoder().encode(JSON.stringify({ kind: 'enqueue', changes: [{ clientSeq: 0 }] })));
      const decoded = decodeJournal(concat(encodeRecord(head), bogus, encodeRecord(ack)));
      assert.equal(decoded.defect?.code, 'BAD_PAYLOAD');
      assert.equal(decoded.defect?.kind, 'corrupt');
    });

    it('reports invalid UTF-8 in a payload as corrupt', () => {
      const decoded = decodeJournal(concat(frame(new Uint8Array([0x7b, 0xff, 0x7d])), encodeRecord(ack)));
      assert.equal(decoded.defect?.code, 'BAD_PAYLOAD');
    });
  });
});

/** Frames arbitrary payload bytes the way encodeRecord does (to forge records). */
function frame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(RECORD_HEADER_BYTES + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, payload.length, true);
  view.setUint32(4, crc32(out, 0, 4), true);
  view.setUint32(8, crc32(payload), true);
  out.set(payload, RECORD_HEADER_BYTES);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
