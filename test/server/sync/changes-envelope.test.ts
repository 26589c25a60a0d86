import assert from 'node:assert/strict';
import { changesEnvelopeText, splitChangesEnvelope } from '../../../server/sync/changes-envelope';

describe('changes-envelope', () => {
  const fields = { t: 'changes', from: 'dev-"quoted",\\"changes\\":', first: 4, last: 5, at: 1700000000000 } as const;

  describe('#splitChangesEnvelope', () => {
    it('gives the changes JSON as it was written, and fields that parse to the envelope without them', () => {
      // A change whose body has a "changes" key of its own, and a device id that tries to look like the key.
      const changes = [{ seq: 4, body: { changes: [1], note: ',"changes":' } }, { seq: 5, body: 'x' }];
      const changesJson = JSON.stringify(changes);
      const text = changesEnvelopeText(fields, changesJson);
      assert.deepEqual(JSON.parse(text), { ...fields, changes });
      const split = splitChangesEnvelope(text);
      assert.equal(split?.changesJson, changesJson);
      assert.deepEqual(JSON.parse(split!.fields), fields);
    });

    it('reads the envelope from an offset (the pub/sub message after its origin prefix)', () => {
      const text = changesEnvelopeText(fields, '[1]');
      const split = splitChangesEnvelope(`origin-id|${text}`, 'origin-id|'.length);
      assert.equal(split?.changesJson, '[1]');
      assert.deepEqual(JSON.parse(split!.fields), fields);
      assert.deepEqual(splitChangesEnvelope(`o|${changesEnvelopeText(fields)}`, 2), { fields: changesEnvelopeText(fields) });
      assert.equal(splitChangesEnvelope(`o|${text}`, 0), undefined);
    });

    it('splits an envelope without changes (too large to carry) into its fields alone', () => {
      const text = changesEnvelopeText(fields);
      assert.deepEqual(splitChangesEnvelope(text), { fields: text });
    });

    it('leaves every other message to be parsed whole', () => {
      for (const text of [
        JSON.stringify({ t: 'presence', deviceId: 'd', state: 'online' }),
        JSON.stringify({ t: 'command.result', sender: 's', final: true, message: { type: 'command.result', changes: [] } }),
        JSON.stringify({ from: 'd', t: 'changes', changes: [] }),
        '{"t":"changes","from":"d","changes":[',
      ]) {
        assert.equal(splitChangesEnvelope(text), undefined, text);
      }
    });
  });
});
