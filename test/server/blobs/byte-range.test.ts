import assert from 'node:assert/strict';
import { parseByteRange } from '../../../server/blobs/byte-range';

describe('parseByteRange', () => {
  it('reads first-last, open-ended and suffix ranges', () => {
    assert.deepEqual(parseByteRange('bytes=0-9', 100), { kind: 'range', start: 0, end: 9 });
    assert.deepEqual(parseByteRange('bytes=90-', 100), { kind: 'range', start: 90, end: 99 });
    assert.deepEqual(parseByteRange('bytes=-10', 100), { kind: 'range', start: 90, end: 99 });
    assert.deepEqual(parseByteRange('bytes=-1000', 100), { kind: 'range', start: 0, end: 99 });
    assert.deepEqual(parseByteRange('bytes=50-1000', 100), { kind: 'range', start: 50, end: 99 });
  });

  it('is unsatisfiable past the end, for an empty suffix and on an empty blob', () => {
    assert.deepEqual(parseByteRange('bytes=100-', 100), { kind: 'unsatisfiable' });
    assert.deepEqual(parseByteRange('bytes=-0', 100), { kind: 'unsatisfiable' });
    assert.deepEqual(parseByteRange('bytes=0-', 0), { kind: 'unsatisfiable' });
  });

  it('ignores absent, malformed, reversed and multi-part ranges', () => {
    for (const header of [undefined, '', 'bytes=', 'bytes=-', 'bytes=9-1', 'bytes=0-1,3-4', 'lines=0-1', 'bytes=a-b']) {
      assert.deepEqual(parseByteRange(header, 100), { kind: 'none' }, String(header));
    }
  });
});
