/**
 * Two relays (two startRelayServer instances, each with its own database pool, Redis
 * connections and session validator) on one PostgreSQL database and one Redis: fan-out,
 * presence, commands and revocation cross between them through Redis pub/sub.
 */
import assert from 'node:assert/strict';
import { CloseCode } from '../../../core/protocol/close-codes';
import { loadRelayConfig } from '../../../server/config/load-config';
import type { Database } from '../../../server/db/database';
import { startRelayServer, type RelayServer } from '../../../server/relay-server';
import type { RawWsClient } from '../../conformance/raw-ws-client';
import { createTestDatabase, type TestDatabase } from '../../support/postgres';
import { connectTestRedis, deleteKeysWithPrefix, testRedisUrl, uniquePrefix } from '../../support/redis';
import { connectDevice, streamPut } from '../../support/sync-client';
import { createTestDevice, createTestUser, revokeTestDevice } from '../../support/sync-relay';

describe('sync endpoint on two relay processes (PostgreSQL + Redis)', function () {
  this.timeout(20_000);
  let testDb: TestDatabase;
  const dbs: Database[] = [];
  const relays: RelayServer[] = [];
  const clients: RawWsClient[] = [];
  const prefix = uniquePrefix('sync-multi');

  before(async () => {
    testDb = await createTestDatabase();
    const config = loadRelayConfig({
      env: { DATABASE_URL: testDb.url, REDIS_URL: testRedisUrl(), REDIS_KEY_PREFIX: prefix, PORT: '0', LOG_LEVEL: 'silent' },
    });
    for (let i = 0; i < 2; i++) {
      const relay = await startRelayServer(config, {}, { compactionIntervalMs: 0 });
      relays.push(relay);
      dbs.push(relay.db);
      const ready = (await (await fetch(`${relay.url}/readyz`)).json()) as { status: string };
      assert.equal(ready.status, 'ready', 'PostgreSQL and Redis must be reachable');
    }
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  after(async () => {
    await Promise.all(relays.map((r) => r.close()));
    const redis = await connectTestRedis();
    await deleteKeysWithPrefix(redis, prefix);
    redis.disconnect();
    await testDb?.drop();
  });

  async function connect(relay: RelayServer, device: { deviceId: string; token: string }) {
    const { client } = await connectDevice(`${relay.url.replace('http', 'ws')}/v1/sync`, device);
    clients.push(client);
    return client;
  }

  async function newUser(devices: number) {
    const userId = await createTestUser(dbs[0]!);
    const list = [];
    for (let i = 0; i < devices; i++) list.push(await createTestDevice(dbs[0]!, userId));
    return list;
  }

  it("shows each device the other's changes when they are on different processes", async () => {
    const [one, two] = await newUser(2);
    const a = await connect(relays[0]!, one!);
    const b = await connect(relays[1]!, two!);
    const ack = await a.request({ type: 'push', changes: [streamPut(1, 't1', 1), streamPut(2, 't1', 2)] });
    assert.equal(ack.type, 'ack');
    const onB = await b.waitFor((m) => m.type === 'changes' && m.replyTo === undefined, 'live changes on B');
    assert.deepEqual(onB.type === 'changes' && onB.changes.map((c) => [c.seq, c.deviceId]), [
      [1, one!.deviceId],
      [2, one!.deviceId],
    ]);
    await b.request({ type: 'push', changes: [streamPut(1, 't2', 5)] });
    const onA = await a.waitFor((m) => m.type === 'changes' && m.replyTo === undefined, 'live changes on A');
    assert.deepEqual(onA.type === 'changes' && onA.changes.map((c) => [c.seq, c.deviceId]), [[3, two!.deviceId]]);
    assert.equal(onA.type === 'changes' && onA.cursor, 3);
  });

  it('tells a device on one process about presence of a device on the other', async () => {
    const [one, two] = await newUser(2);
    const a = await connect(relays[0]!, one!);
    const b = await connect(relays[1]!, two!);
    await a.waitFor((m) => m.type === 'presence' && m.deviceId === two!.deviceId && m.state === 'online', 'b online on A');
    await b.waitFor((m) => m.type === 'presence' && m.deviceId === one!.deviceId && m.state === 'online', 'a introduced on B');
    await b.close();
    await a.waitFor((m) => m.type === 'presence' && m.deviceId === two!.deviceId && m.state === 'offline', 'b offline on A');
  });

  it('routes a command sent via process A to its target on process B, and the result back', async () => {
    const [sender, target] = await newUser(2);
    const a = await connect(relays[0]!, sender!);
    const b = await connect(relays[1]!, target!);
    const queued = await a.request({ type: 'command.send', targetDeviceId: target!.deviceId, command: { kind: 'task.start', text: 'go' } });
    assert.equal(queued.type, 'command.queued');
    const delivered = await b.waitFor((m) => m.type === 'command.deliver', 'delivery on B');
    assert.equal(delivered.type === 'command.deliver' && delivered.commandId, queued.type === 'command.queued' && queued.commandId);
    if (delivered.type !== 'command.deliver') return;
    b.send({ type: 'command.response', id: b.id(), commandId: delivered.commandId, status: 'progress', result: { step: 1 } });
    b.send({ type: 'command.response', id: b.id(), commandId: delivered.commandId, status: 'done', result: { taskId: 't7' } });
    const progress = await a.waitFor((m) => m.type === 'command.result' && m.status === 'progress', 'progress on A');
    assert.deepEqual(progress.type === 'command.result' && progress.result, { step: 1 });
    const done = await a.waitFor((m) => m.type === 'command.result' && m.status === 'done', 'done on A');
    assert.deepEqual(done.type === 'command.result' && done.result, { taskId: 't7' });
  });

  it('gives the later of two simultaneous commands for one task COMMAND_TASK_BUSY across processes', async () => {
    const [first, second, target] = await newUser(3);
    const a = await connect(relays[0]!, first!);
    const b = await connect(relays[1]!, second!);
    const command = { kind: 'task.message', taskId: 'shared', text: 'x' };
    const replies = await Promise.all([
      a.request({ type: 'command.send', targetDeviceId: target!.deviceId, command }),
      b.request({ type: 'command.send', targetDeviceId: target!.deviceId, command }),
    ]);
    const kinds = replies.map((r) => (r.type === 'error' ? r.code : r.type)).sort();
    assert.deepEqual(kinds, ['COMMAND_TASK_BUSY', 'command.queued']);
  });

  it('closes the sockets of a revoked device on both processes within 1 s', async () => {
    const [device, other] = await newUser(2);
    const onA = await connect(relays[0]!, device!);
    const onB = await connect(relays[1]!, device!);
    const watcher = await connect(relays[1]!, other!);
    const started = Date.now();
    await revokeTestDevice(dbs[0]!, relays[0]!.sessions, device!.deviceId);
    const [closedA, closedB] = await Promise.all([onA.waitClosed(1_000), onB.waitClosed(1_000)]);
    assert.equal(closedA.code, CloseCode.Forbidden);
    assert.equal(closedB.code, CloseCode.Forbidden);
    assert.ok(Date.now() - started <= 1_000, `closed after ${Date.now() - started} ms`);
    const pong = await watcher.request({ type: 'ping' });
    assert.equal(pong.type, 'pong');
  });
});
