import assert from 'node:assert/strict';
import { mkdtemp, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asTaskId } from '../../../core/ids';
import type { ChangeBody } from '../../../core/model/changes';
import { FileOutbox } from '../../../core/node/outbox/file-outbox';
import type { AnchorOutcome } from '../../../core/ports/outbox';
import { ClientHarness, waitUntil } from './client-harness';

function put(key: number, content: string): { body: ChangeBody; baseSeq: null } {
  return {
    baseSeq: null,
    body: {
      type: 'stream.put',
      source: 'roo-code',
      taskId: asTaskId('t1'),
      stream: 'api',
      key: String(key),
      hash: 'c'.repeat(64),
      entry: { role: 'user', content },
    },
  };
}

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

  describe('anchoring to the relay (welcome.lastClientSeq)', () => {
    /** Every change of `deviceId` in the log, as [clientSeq, content], read by another device. */
    async function logOf(deviceId: string): Promise<Array<[number, unknown]>> {
      const reader = await harness.online(harness.client());
      const page = await reader.pull(0, 1000);
      await reader.close();
      return page.changes
        .filter((c) => c.deviceId === deviceId)
        .map((c) => [c.clientSeq, c.body.type === 'stream.put' ? (c.body.entry as { content: unknown }).content : null]);
    }

    it('moves a journal created afresh above the relay mark before pushing: a device that lost its journal keeps its new changes', async () => {
      const path = join(dir, 'outbox.journal');
      const device = harness.device();
      const first = await FileOutbox.open(path);
      await first.enqueue([put(0, 'a'), put(1, 'b'), put(2, 'c')]);
      const before = harness.client({ outbox: first }, device);
      await waitUntil(() => first.size === 0, 'first journal drained');
      await before.close();
      await first.close();

      // The journal is lost; the device (same credentials) numbers its new changes from 1 again.
      await unlink(path);
      const fresh = await FileOutbox.open(path);
      try {
        const queued = await fresh.enqueue([put(3, 'd'), put(4, 'e')]);
        assert.deepEqual(queued.map((c) => c.clientSeq), [1, 2]);
        const anchors: AnchorOutcome[] = [];
        const client = harness.client({ outbox: fresh }, device);
        client.onOutboxAnchored((outcome) => anchors.push(outcome));
        await waitUntil(() => fresh.size === 0, 'fresh journal drained');
        assert.deepEqual(anchors, [{ action: 'anchored', renumbered: 2, lastSeq: 5 }]);
        assert.equal(fresh.anchored, true);
      } finally {
        await fresh.close();
      }
      assert.deepEqual(await logOf(device.deviceId), [
        [1, 'a'],
        [2, 'b'],
        [3, 'c'],
        [4, 'd'],
        [5, 'e'],
      ]);
    });

    it('keeps the numbers of changes whose ack was lost, so re-sending them stores them once', async () => {
      const path = join(dir, 'outbox.journal');
      const device = harness.device();
      const outbox = await FileOutbox.open(path);
      try {
        const anchoring = harness.client({ outbox }, device);
        await waitUntil(() => outbox.anchored, 'outbox anchored');
        await anchoring.close();
        const queued = await outbox.enqueue([put(0, 'a'), put(1, 'b')]);
        // Pushed and stored, but the ack never reached the journal.
        const bare = await harness.online(harness.client({}, device));
        assert.deepEqual((await bare.push(queued)).accepted.map((a) => a.clientSeq), [1, 2]);
        await bare.close();

        const anchors: AnchorOutcome[] = [];
        const client = harness.client({ outbox }, device);
        client.onOutboxAnchored((outcome) => anchors.push(outcome));
        await waitUntil(() => outbox.size === 0, 'replays acknowledged');
        assert.deepEqual(anchors, [], 'nothing renumbered');
      } finally {
        await outbox.close();
      }
      assert.deepEqual(await logOf(device.deviceId), [
        [1, 'a'],
        [2, 'b'],
      ]);
    });

    it('does not go online, and pushes nothing, while the outbox cannot be anchored', async () => {
      const outbox = await FileOutbox.open(join(dir, 'outbox.journal'));
      await outbox.enqueue([put(0, 'a')]);
      await outbox.close();
      const client = harness.client({ outbox });
      await waitUntil(() => client.status.lastError?.code === 'OUTBOX_CLOSED', 'the anchor failure reported');
      assert.notEqual(client.status.state, 'online');
      assert.equal(harness.relay.serverCursor(harness.userId), 0);
    });
  });
});
