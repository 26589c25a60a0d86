/**
 * The load bench's untimed device (test/support/bench-sink-client.ts) against a real relay
 * (PGlite): it is accepted like any device, takes the live changes off its socket, and closes
 * with a proper close frame.
 */
import assert from 'node:assert/strict';
import { openCache, type CacheBackend } from '../../server/cache/open-cache';
import type { Database } from '../../server/db/database';
import { migrate } from '../../server/db/migrator';
import { BenchSinkClient } from '../support/bench-sink-client';
import { BenchWsClient } from '../support/bench-ws-client';
import { openTestPglite } from '../support/pglite';
import { streamPut } from '../support/sync-client';
import { createTestDevice, createTestUser, startSyncRelay, type SyncRelay } from '../support/sync-relay';

describe('BenchSinkClient', function () {
  this.timeout(30_000);
  let db: Database;
  let backend: CacheBackend;
  let relay: SyncRelay;

  before(async () => {
    db = await openTestPglite();
    await migrate(db);
    backend = await openCache();
    relay = await startSyncRelay({ db, backend });
  });
  after(async () => {
    await relay?.close();
    await backend?.close();
    await db?.close();
  });

  const syncUrl = (): string => relay.url;

  it('is welcomed, receives the bytes of another device\'s live change, and closes with 1000', async () => {
    const userId = await createTestUser(db);
    const sink = await BenchSinkClient.connect(syncUrl(), await createTestDevice(db, userId));
    const sender = await BenchWsClient.connect(syncUrl(), await createTestDevice(db, userId), ['none']);
    const before = sink.bytesReceived;
    const text = 'a change the sink takes unparsed';
    const reply = await sender.request({ type: 'push', changes: [streamPut(1, 'sink-task', 1, text)] });
    assert.equal(reply.type, 'ack');
    while (sink.bytesReceived - before < text.length) await new Promise((resolve) => setTimeout(resolve, 5));
    await sink.close();
    // The relay saw a clean close (1000), not a dropped connection.
    while (relay.endpoint.connectionCount > 1) await new Promise((resolve) => setTimeout(resolve, 5));
    assert.deepEqual((await relay.metrics.wsCloses.get()).values.map((v) => [v.labels.code, v.value]), [['1000', 1]]);
    await sender.close();
  });

  it('fails to connect with a token the relay refuses', async () => {
    const userId = await createTestUser(db);
    const device = await createTestDevice(db, userId);
    await assert.rejects(BenchSinkClient.connect(syncUrl(), { ...device, token: 'not-a-token' }), /no welcome|closed before the welcome/);
  });
});
