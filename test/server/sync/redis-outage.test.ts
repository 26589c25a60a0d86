/**
 * Redis stopped mid-run (a redis-server this test started itself): two relays keep serving sync
 * from PostgreSQL, /readyz says degraded, devices on the same process still get live changes and
 * devices elsewhere catch up by pull; when Redis returns, /readyz says ready and live fan-out
 * across processes works again.
 */
import assert from 'node:assert/strict';
import { loadRelayConfig } from '../../../server/config/load-config';
import type { Database } from '../../../server/db/database';
import { openDatabase } from '../../../server/db/open-database';
import { startRelayServer, type RelayServer } from '../../../server/relay-server';
import type { RawWsClient } from '../../conformance/raw-ws-client';
import { createTestDatabase, type TestDatabase } from '../../support/postgres';
import { RedisServerProcess, waitFor } from '../../support/redis';
import { connectDevice, streamPut } from '../../support/sync-client';
import { createTestDevice, createTestUser } from '../../support/sync-relay';

async function readiness(relay: RelayServer): Promise<string> {
  const res = await fetch(`${relay.url}/readyz`);
  return ((await res.json()) as { status: string }).status;
}

function wsUrl(relay: RelayServer): string {
  return `${relay.url.replace('http', 'ws')}/v1/sync`;
}

describe('sync endpoint while Redis is stopped and restarted', function () {
  this.timeout(60_000);
  let redis: RedisServerProcess;
  let testDb: TestDatabase;
  let admin: Database;
  const relays: RelayServer[] = [];
  const clients: RawWsClient[] = [];

  before(async () => {
    redis = await RedisServerProcess.start();
    testDb = await createTestDatabase();
    const config = loadRelayConfig({
      env: { DATABASE_URL: testDb.url, REDIS_URL: redis.url, PORT: '0', LOG_LEVEL: 'silent', REDIS_KEY_PREFIX: 'outage:' },
    });
    relays.push(await startRelayServer(config, {}, { compactionIntervalMs: 0 }));
    relays.push(await startRelayServer(config, {}, { compactionIntervalMs: 0, migrate: false }));
    admin = await openDatabase({ databaseUrl: testDb.url });
  });
  after(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(relays.map((r) => r.close()));
    await admin?.close();
    await testDb?.drop();
    await redis?.stop();
  });

  async function connect(relay: RelayServer, device: { deviceId: string; token: string }): Promise<RawWsClient> {
    const { client } = await connectDevice(wsUrl(relay), device);
    clients.push(client);
    return client;
  }

  const live = (client: RawWsClient, seq: number) =>
    client.waitFor((m) => m.type === 'changes' && m.replyTo === undefined && m.changes.some((c) => c.seq === seq), `live seq ${seq}`);

  it('keeps serving, reports degraded, and fans out across processes again when Redis returns', async () => {
    const [a, b] = relays as [RelayServer, RelayServer];
    const userId = await createTestUser(admin);
    const [d1, d2, d3, d4] = [
      await createTestDevice(admin, userId),
      await createTestDevice(admin, userId),
      await createTestDevice(admin, userId),
      await createTestDevice(admin, userId),
    ];
    assert.deepEqual([await readiness(a), await readiness(b)], ['ready', 'ready']);
    const c1 = await connect(a, d1!);
    const c2 = await connect(a, d2!);
    const c3 = await connect(b, d3!);
    assert.equal((await c1.request({ type: 'push', changes: [streamPut(1, 't', 1)] })).type, 'ack');
    await live(c2, 1);
    await live(c3, 1);

    await redis.stop();
    await waitFor(async () => (await readiness(a)) === 'degraded' && (await readiness(b)) === 'degraded', '/readyz degraded');

    const reply = await c1.request({ type: 'push', changes: [streamPut(2, 't', 2)] });
    assert.equal(reply.type, 'ack', 'pushes still commit');
    await live(c2, 2);
    // The device on the other process catches up by pull.
    const page = await c3.request({ type: 'pull', cursor: 1, limit: 10 });
    assert.deepEqual(page.type === 'changes' && page.changes.map((c) => c.seq), [2]);
    // A new device signs in to the socket while Redis is down (its session is read from the database).
    const c4 = await connect(b, d4!);
    assert.equal((await c4.request({ type: 'ping' })).type, 'pong');

    await redis.start();
    await waitFor(async () => (await readiness(a)) === 'ready' && (await readiness(b)) === 'ready', '/readyz ready again', 20_000);
    // Channels come back once each relay has resubscribed: keep pushing until one crosses.
    let clientSeq = 3;
    await waitFor(async () => {
      const seq = clientSeq++;
      const ack = await c1.request({ type: 'push', changes: [streamPut(seq, 't', seq)] });
      assert.equal(ack.type, 'ack');
      const committed = ack.type === 'ack' ? ack.accepted[0]!.seq : 0;
      return live(c4, committed).then(() => true, () => false);
    }, 'live fan-out to the other process after Redis returned', 20_000);
    assert.ok(c3.received.some((m) => m.type === 'changes' && m.replyTo === undefined && m.changes.some((c) => c.seq >= 3)));
  });
});
