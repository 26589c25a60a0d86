import assert from 'node:assert/strict';
import { isSyncError } from '../../../core/errors';
import { joinStreamPages, parseStreamJson } from '../../../core/protocol/stream-page';

const bytes = (text: string) => new TextEncoder().encode(text);
const textOf = (joined: Uint8Array) => new TextDecoder().decode(joined);

describe('stream pages (core/protocol/stream-page)', () => {
  it('joins the pages into one JSON array without parsing them, skipping empty pages', () => {
    assert.equal(textOf(joinStreamPages([bytes('[1,{"a":"],["}]'), bytes('[]'), bytes('["é",null]'), bytes('[ 3 ]')])), '[1,{"a":"],["},"é",null, 3 ]');
    assert.deepEqual(JSON.parse(textOf(joinStreamPages([bytes('[1,{"a":"],["}]'), bytes('["é",null]')]))), [1, { a: '],[' }, 'é', null]);
    assert.equal(textOf(joinStreamPages([bytes('[]'), bytes('[]')])), '[]');
    assert.equal(textOf(joinStreamPages([bytes('[7]')])), '[7]');
  });

  it('refuses a page that is not a JSON array with RELAY_RESPONSE_INVALID', () => {
    for (const page of ['{"a":1}', '', '[', ' [1]', '[1] ']) {
      assert.throws(() => joinStreamPages([bytes('[1]'), bytes(page)]), (error: unknown) => isSyncError(error, 'RELAY_RESPONSE_INVALID'), JSON.stringify(page));
    }
  });

  it('parseStreamJson: the entries of a JSON array; RELAY_RESPONSE_INVALID for anything else', () => {
    assert.deepEqual(parseStreamJson(bytes('[{"a":1},"é"]')), [{ a: 1 }, 'é']);
    for (const text of ['{"a":1}', '[1', '', '"x"']) {
      assert.throws(() => parseStreamJson(bytes(text)), (error: unknown) => isSyncError(error, 'RELAY_RESPONSE_INVALID'), text);
    }
    assert.throws(() => parseStreamJson(new Uint8Array([0x5b, 0x22, 0xc3, 0x22, 0x5d])), (error: unknown) => isSyncError(error, 'RELAY_RESPONSE_INVALID'), 'not UTF-8');
  });
});
