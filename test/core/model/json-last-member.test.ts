import assert from 'node:assert/strict';
import { lastMemberPrefix, withLastMember } from '../../../core/model/json-last-member';

describe('withLastMember', () => {
  it('writes the value text as the object\'s last member, verbatim, after its prefix', () => {
    const text = withLastMember('{"a":1,"b":"x"}', 'entry', '{"z":1.50,"y":"é"}');
    assert.equal(text, '{"a":1,"b":"x","entry":{"z":1.50,"y":"é"}}');
    assert.deepEqual(JSON.parse(text), { a: 1, b: 'x', entry: { z: 1.5, y: 'é' } });
    assert.equal(text.indexOf(lastMemberPrefix('entry')), '{"a":1,"b":"x"'.length);
  });

  it('escapes the key like JSON.stringify', () => {
    assert.equal(lastMemberPrefix('a"b'), ',"a\\"b":');
  });
});
