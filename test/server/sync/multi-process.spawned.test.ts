/**
 * Two relays as separate OS processes (`roo-sync server`, the CLI, each its own Node process
 * with its own pools, Redis connections and in-memory state) on one fresh PostgreSQL database
 * and one Redis key prefix: a device on each sees the other's changes live and in a pull, and
 * revoking a device through one process closes its socket on the other within 1 s.
 * (multi-process.test.ts runs two relay instances inside one Node process.)
 * Fails, never skips, when PostgreSQL or Redis is missing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloseCode } from '../../../core/protocol/close-codes';
import { RawWsClient } from '../../conformance/raw-ws-client';
import { createTestDatabase, type TestDatabase } from '../../support/postgres';
import { connectTestRedis, deleteTestKeys, testRedisUrl, uniquePrefix } from '../../support/redis';
import { startRelayProcess, type RelayProcess } from '../../support/relay-process';
import { connectDevice, streamPut, type TestDevice } from '../../support/sync-client';
import { signUpDevices } from '../../support/sync-relay-process';

interface SpawnedRelay {
  process: RelayProcess;
  httpUrl: string;
  wsUrl: string;
}

describe('sync on two relay OS processes (PostgreSQL + Redis)', function () {
  this.timeout(120_000);
  let testDb: TestDatabase | undefined;
  let dir: string | undefined;
  const relays: SpawnedRelay[] = [];
  const clients: RawWsClient[] = [];
  const prefix = uniquePrefix('sync-spawned');

  before(async () => {
    // Both reject (the suite fails) when the service is missing.
    (await connectTestRedis()).disconnect();
    testDb = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'roo-relay-spawned-'));
    const env = { DATABASE_URL: testDb.url, REDIS_URL: testRedisUrl(), REDIS_KEY_PREFIX: prefix, LOG_LEVEL: 'info' };
    const started = await Promise.allSettled(
      [0, 1].map((i) =>
        startRelayProcess({
          // Unused with DATABASE_URL; the CLI is given one all the same.
          dataDir: join(dir!, `data-${i}`),
          env,
          args: ['--allow-signup', '--compaction-interval-seconds', '0'],
          startTimeoutMs: 90_000,
        }),
      ),
    );
    for (const result of started) {
      if (result.status === 'fulfilled') {
        const httpUrl = result.value.url.replace(/\/+$/, '');
        relays.push({ process: result.value, httpUrl, wsUrl: `${httpUrl.replace(/^http/, 'ws')}/v1/sync` });
      }
    }
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    assert.notEqual(relays[0]!.process.pid, relays[1]!.process.pid);
    for (const relay of relays) {
      const ready = (await (await fetch(`${relay.httpUrl}/readyz`)).json()) as { status: string; database: { kind: string }; cache: { kind: string } };
      assert.equal(ready.status, 'ready', `relay ${relay.process.pid}: ${JSON.stringify(ready)}`);
      assert.equal(ready.database.kind, 'postgres');
      assert.equal(ready.cache.kind, 'redis');
    }
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  after(async () => {
    await Promise.all(relays.map((r) => r.process.stop().catch(() => r.process.kill())));
    await testDb?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (relays.length > 0) await deleteTestKeys(prefix);
  });

  async function connect(relay: SpawnedRelay, device: TestDevice): Promise<RawWsClient> {
    const { client } = await connectDevice(relay.wsUrl, device);
    clients.push(client);
    return client;
  }

  async function pullAll(client: RawWsClient): Promise<Array<{ seq: number; deviceId: string; clientSeq: number }>> {
    const changes: Array<{ seq: number; deviceId: string; clientSeq: number }> = [];
    let cursor = 0;
    for (;;) {
      const page = await client.request({ type: 'pull', cursor, limit: 100 });
      assert.equal(page.type, 'changes', JSON.stringify(page));
      if (page.type !== 'changes') return changes;
      changes.push(...page.changes.map((c) => ({ seq: c.seq, deviceId: c.deviceId, clientSeq: c.clientSeq })));
      cursor = page.cursor;
      if (!page.hasMore) return changes;
    }
  }

  it("shows a device on each process the other's changes, live and in a pull", async () => {
    // Signed up through process A, signed in on both: the account lives in the shared database.
    const { devices } = await signUpDevices(relays[0]!.httpUrl, 2);
    const [one, two] = devices as [TestDevice, TestDevice];
    const a = await connect(relays[0]!, one);
    const b = await connect(relays[1]!, two);

    const ack = await a.request({ type: 'push', changes: [streamPut(1, 't1', 1), streamPut(2, 't1', 2)] });
    assert.equal(ack.type, 'ack', JSON.stringify(ack));
    const onB = await b.waitFor((m) => m.type === 'changes' && m.replyTo === undefined, 'live changes from process A on process B');
    assert.deepEqual(onB.type === 'changes' && onB.changes.map((c) => [c.seq, c.deviceId]), [
      [1, one.deviceId],
      [2, one.deviceId],
    ]);

    const ackB = await b.request({ type: 'push', changes: [streamPut(1, 't2', 5)] });
    assert.equal(ackB.type, 'ack', JSON.stringify(ackB));
    const onA = await a.waitFor((m) => m.type === 'changes' && m.replyTo === undefined, 'live changes from process B on process A');
    assert.deepEqual(onA.type === 'changes' && onA.changes.map((c) => [c.seq, c.deviceId]), [[3, two.deviceId]]);

    const expected = [
      { seq: 1, deviceId: one.deviceId, clientSeq: 1 },
      { seq: 2, deviceId: one.deviceId, clientSeq: 2 },
      { seq: 3, deviceId: two.deviceId, clientSeq: 1 },
    ];
    assert.deepEqual(await pullAll(b), expected, 'a pull on process B');
    assert.deepEqual(await pullAll(a), expected, 'a pull on process A');
  });

  it('closes the socket of a device revoked through process A on process B within 1 s', async () => {
    const { devices } = await signUpDevices(relays[0]!.httpUrl, 3);
    const [admin, revoked, other] = devices as [TestDevice, TestDevice, TestDevice];
    const onB = await connect(relays[1]!, revoked);
    const watcher = await connect(relays[1]!, other);
    const closed = onB.waitClosed(5_000);
    const started = Date.now();
    const res = await fetch(`${relays[0]!.httpUrl}/v1/devices/${revoked.deviceId}`, { method: 'DELETE', headers: { authorization: `Bearer ${admin.token}` } });
    assert.equal(res.status, 204);
    const close = await closed;
    const elapsed = Date.now() - started;
    assert.equal(close.code, CloseCode.Forbidden);
    assert.ok(elapsed <= 1_000, `closed ${elapsed} ms after the revoke request`);
    assert.equal((await watcher.request({ type: 'ping' })).type, 'pong', 'the user’s other device on process B is still served');
    // The revoked device cannot come back on either process.
    for (const relay of relays) {
      const client = await RawWsClient.open(relay.wsUrl);
      clients.push(client);
      client.send({ type: 'hello', protocolVersions: [1], codecs: ['none'], token: revoked.token, deviceId: revoked.deviceId, cursor: 0 });
      const answer = await client.waitFor((m) => m.type === 'welcome' || m.type === 'error', `hello answer on process ${relay.process.pid}`);
      assert.equal(answer.type, 'error', `process ${relay.process.pid} refuses the revoked device: ${JSON.stringify(answer)}`);
    }
  });
});
