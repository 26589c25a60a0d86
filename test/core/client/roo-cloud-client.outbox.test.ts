import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asTaskId } from '../../../core/ids';
import { FileOutbox } from '../../../core/node/outbox/file-outbox';
import { ClientHarness, waitUntil } from './client-harness';

describe('RooCloudClient with the file outbox', () => {
  let dir: string;
  let harness: ClientHarness;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'roo-client-outbox-'));
    harness = await new ClientHarness().start();
  });
  afterEach(async () => {
    await harness.close();
    await rm(dir, { recursive: true, force: true });
  });

  describe('#flush', () => {
    it('replays a journal written offline by an earlier process, in order, and leaves it empty', async () => {
      const path = join(dir, 'outbox.journal');
      const offline = await FileOutbox.open(path);
      await offline.enqueue(
        Array.from({ length: 1200 }, (_, i) => ({
          baseSeq: null,
          body: {
            type: 'stream.put' as const,
            source: 'roo-code' as const,
            taskId: asTaskId('t1'),
            stream: 'api' as const,
            key: String(i),
            hash: 'c'.repeat(64),
            entry: { role: 'user', content: `message ${i}` },
          },
        })),
      );
      await offline.close();

      const outbox = await FileOutbox.open(path);
      try {
        assert.equal(outbox.size, 1200);
        const client = harness.client({ outbox, drainBatchSize: 500 });
        await waitUntil(() => outbox.size === 0, 'journal drained', 10_000);
        const first = await client.pull(0, 1000);
        const second = await client.pull(first.cursor, 1000);
        const all = [...first.changes, ...second.changes];
        assert.deepEqual(all.map((c) => c.clientSeq), Array.from({ length: 1200 }, (_, i) => i + 1));
        assert.equal(second.hasMore, false);
      } finally {
        await outbox.close();
      }
      const reopened = await FileOutbox.open(path);
      assert.equal(reopened.size, 0, 'acknowledgements are durable');
      await reopened.close();
    });
  });
});
