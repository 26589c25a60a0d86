/**
 * Slow consumers on a real relay (PGlite): a device that stops reading its socket gets one empty
 * `changes` page with `hasMore` instead of live pages while its unsent bytes are over
 * `ws.slowConsumerBytes`, catches up by pull, and is closed (4429, WS_SLOW_CONSUMER) past
 * `ws.slowConsumerCloseBytes`.
 */
import assert from 'node:assert/strict';
import type { WebSocket } from 'ws';
import { CloseCode } from '../../../core/protocol/close-codes';
import type { ServerMessage } from '../../../core/protocol/messages';
import { openCache, type CacheBackend } from '../../../server/cache/open-cache';
import type { Database } from '../../../server/db/database';
import { migrate } from '../../../server/db/migrator';
import { createLogger } from '../../../server/observability/logger';
import type { RawWsClient } from '../../conformance/raw-ws-client';
import { openTestPglite } from '../../support/pglite';
import { connectDevice, streamPut } from '../../support/sync-client';
import { createTestDevice, createTestUser, startSyncRelay, type SyncRelay } from '../../support/sync-relay';

const KIB = 1024;
/** One change of about 200 KB: a few dozen fill the loopback socket buffers. */
const BIG_TEXT = 'x'.repeat(200 * KIB);
const DEADLINE_MS = 30_000;

/** The ws socket under a RawWsClient, to stop reading from it (what a stalled device does). */
function socketOf(client: RawWsClient): WebSocket {
  return (client as unknown as { socket: WebSocket }).socket;
}

describe('slow consumers (PGlite)', function () {
  this.timeout(90_000);
  let db: Database;
  let backend: CacheBackend;
  const relays: SyncRelay[] = [];
  const clients: RawWsClient[] = [];

  before(async () => {
    db = await openTestPglite();
    await migrate(db);
    backend = await openCache();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) {
      socketOf(c).resume();
      await c.close();
    }
    await Promise.all(relays.splice(0).map((r) => r.close()));
  });
  after(async () => {
    await backend?.close();
    await db?.close();
  });

  /** A relay with the given slow-consumer limits whose log lines are kept. */
  async function relayWith(slowConsumerBytes: number, slowConsumerCloseBytes: number): Promise<{ relay: SyncRelay; logs: string[] }> {
    const logs: string[] = [];
    const logger = createLogger({ level: 'debug', sink: { write: (line: string) => logs.push(line) } });
    const relay = await startSyncRelay({
      db,
      backend,
      logger,
      ws: { slowConsumerBytes, slowConsumerCloseBytes, rateLimitPerSecond: 100_000, rateLimitBurst: 100_000 },
    });
    relays.push(relay);
    return { relay, logs };
  }

  async function connect(relay: SyncRelay, device: { deviceId: string; token: string }): Promise<RawWsClient> {
    const { client } = await connectDevice(relay.url, device);
    clients.push(client);
    return client;
  }

  const isStandIn = (m: ServerMessage): boolean => m.type === 'changes' && m.replyTo === undefined && m.changes.length === 0 && m.hasMore;

  it('replaces live pages by one empty hasMore page while the socket is over the limit; the device pulls what it missed', async () => {
    const { relay, logs } = await relayWith(64 * KIB, 1024 * 1024 * KIB);
    const userId = await createTestUser(db);
    const writer = await connect(relay, await createTestDevice(db, userId));
    const reader = await connect(relay, await createTestDevice(db, userId));
    socketOf(reader).pause();

    let pushed = 0;
    const push = async (): Promise<void> => {
      pushed++;
      const reply = await writer.request({ type: 'push', changes: [streamPut(pushed, 'slow-task', pushed, BIG_TEXT)] });
      assert.equal(reply.type, 'ack');
    };
    const deadline = Date.now() + DEADLINE_MS;
    // Fan-out to the reader happens before the push is acknowledged.
    while (!logs.some((l) => l.includes('live pages held back'))) {
      assert.ok(Date.now() < deadline, `the relay never held live pages back after ${pushed} pushes`);
      await push();
    }
    const heldFrom = pushed;
    for (let i = 0; i < 3; i++) await push();

    socketOf(reader).resume();
    const standIn = await reader.waitFor(isStandIn, 'the empty hasMore page', DEADLINE_MS);
    assert.ok(standIn.type === 'changes');
    assert.equal(standIn.cursor, heldFrom - 1, 'the stand-in points just before the first held-back change');
    const live = () => reader.received.flatMap((m) => (m.type === 'changes' && m.replyTo === undefined ? m.changes.map((c) => c.seq) : []));
    assert.deepEqual(live(), Array.from({ length: heldFrom - 1 }, (_, i) => i + 1), 'pages before the limit arrived live, in order');
    assert.equal(reader.received.filter(isStandIn).length, 1, 'one stand-in, however many pages were held back');

    // The device pulls from the stand-in's cursor and gets everything held back.
    const pulled: number[] = [];
    for (let cursor = standIn.cursor; ;) {
      const page = await reader.request({ type: 'pull', cursor, limit: 2 });
      assert.ok(page.type === 'changes');
      pulled.push(...page.changes.map((c) => c.seq));
      cursor = page.cursor;
      if (!page.hasMore) break;
    }
    assert.deepEqual(pulled, Array.from({ length: pushed - heldFrom + 1 }, (_, i) => heldFrom + i));

    // Drained: live pages flow again.
    await push();
    await reader.waitFor((m) => m.type === 'changes' && m.replyTo === undefined && m.changes.some((c) => c.seq === pushed), 'a live page after the catch-up');
  });

  it('closes a socket whose unsent bytes pass slowConsumerCloseBytes with RateLimited (4429) and WS_SLOW_CONSUMER', async () => {
    const { relay, logs } = await relayWith(64 * KIB, 512 * KIB);
    const userId = await createTestUser(db);
    const writer = await connect(relay, await createTestDevice(db, userId));
    for (let i = 1; i <= 3; i++) await writer.request({ type: 'push', changes: [streamPut(i, 'slow-task', i, BIG_TEXT)] });
    const reader = await connect(relay, await createTestDevice(db, userId));
    socketOf(reader).pause();
    // The reader keeps asking (its own replies pile up unread).
    const deadline = Date.now() + DEADLINE_MS;
    while (!logs.some((l) => l.includes('slow consumer closed'))) {
      assert.ok(Date.now() < deadline, 'the relay never closed the slow consumer');
      reader.send({ type: 'pull', id: `p${Date.now()}${Math.random()}`, cursor: 0, limit: 10 });
      await new Promise((resolve) => setImmediate(resolve));
    }
    socketOf(reader).resume();
    const closed = await reader.waitClosed(DEADLINE_MS);
    assert.equal(closed.code, CloseCode.RateLimited);
    assert.equal(closed.reason, 'WS_SLOW_CONSUMER');
  });
});
