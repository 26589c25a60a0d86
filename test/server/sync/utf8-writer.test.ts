import assert from 'node:assert/strict';
import { Utf8Writer } from '../../../server/sync/utf8-writer';

describe('Utf8Writer', () => {
  it('writes UTF-8 across growth of its buffer, and starts over on reset', () => {
    const writer = new Utf8Writer(4);
    const parts = ['{"a":', '"naïve — ✓ 😀"', ',"b":', JSON.stringify('x'.repeat(1000)), '}'];
    for (const part of parts) writer.text(part);
    assert.equal(Buffer.from(writer.bytes()).toString('utf8'), parts.join(''));
    assert.equal(Buffer.from(writer.reset().text('é').bytes()).toString('utf8'), 'é');
  });
});
