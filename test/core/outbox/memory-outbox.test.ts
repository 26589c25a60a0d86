import assert from 'node:assert/strict';
import { MemoryOutbox } from '../../../core/outbox/memory-outbox';
import { filePut, inputs } from './fixtures';
import { runOutboxConformance } from './outbox-conformance';

runOutboxConformance('MemoryOutbox', async () => new MemoryOutbox());

describe('MemoryOutbox', () => {
  describe('#constructor', () => {
    it('continues clientSeqs after lastSeq (a restarted simulated device)', async () => {
      const outbox = new MemoryOutbox({ lastSeq: 41 });
      const [change] = await outbox.enqueue(inputs(filePut('a')));
      assert.equal(change!.clientSeq, 42);
      assert.equal(outbox.lastSeq, 42);
    });
  });
});
