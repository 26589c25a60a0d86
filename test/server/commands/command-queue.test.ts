/**
 * The remote-command queue through the real sync endpoint on PGlite: delivery after reconnect,
 * priority, expiry (also told to a sender that was offline), redelivery with exponential
 * backoff, simultaneous-command conflict, revoked targets and the queue depth metric.
 */
import assert from 'node:assert/strict';
import { openCache, type CacheBackend } from '../../../server/cache/open-cache';
import { retryDelayMs } from '../../../server/commands/command-service';
import type { Database } from '../../../server/db/database';
import { migrate } from '../../../server/db/migrator';
import type { ServerMessage } from '../../../core/protocol/messages';
import type { RawWsClient } from '../../conformance/raw-ws-client';
import { openTestPglite } from '../../support/pglite';
import { waitFor } from '../../support/redis';
import { connectDevice } from '../../support/sync-client';
import { createTestDevice, createTestUser, revokeTestDevice, startSyncRelay, type SyncRelay } from '../../support/sync-relay';

const RETRY_MS = 150;

describe('CommandService', () => {
  describe('retryDelayMs', () => {
    it('doubles per attempt from the initial delay up to the cap', () => {
      const timing = { retryInitialMs: 100, retryMaxMs: 1000 };
      assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => retryDelayMs(n, timing)), [100, 200, 400, 800, 1000, 1000]);
    });
  });
});

describe('remote command queue over /v1/sync (PGlite)', function () {
  this.timeout(20_000);
  let db: Database;
  let backend: CacheBackend;
  let relay: SyncRelay;
  const clients: RawWsClient[] = [];

  before(async () => {
    db = await openTestPglite();
    await migrate(db);
    backend = await openCache();
    relay = await startSyncRelay({ db, backend, commandTiming: { retryInitialMs: RETRY_MS, retryMaxMs: 2_000, sweepIntervalMs: 100 } });
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  after(async () => {
    await relay?.close();
    await backend?.close();
    await db?.close();
  });

  async function connect(device: { deviceId: string; token: string }): Promise<RawWsClient> {
    const { client } = await connectDevice(relay.url, device);
    clients.push(client);
    return client;
  }

  async function newUser(devices: number) {
    const userId = await createTestUser(db);
    const list = [];
    for (let i = 0; i < devices; i++) list.push(await createTestDevice(db, userId));
    return list;
  }

  function deliveries(client: RawWsClient): Extract<ServerMessage, { type: 'command.deliver' }>[] {
    return client.received.filter((m): m is Extract<ServerMessage, { type: 'command.deliver' }> => m.type === 'command.deliver');
  }

  it('delivers queued commands when the target connects, highest priority first', async () => {
    const [sender, target] = await newUser(2);
    const a = await connect(sender!);
    const low = await a.request({ type: 'command.send', targetDeviceId: target!.deviceId, command: { kind: 'task.start', text: 'low' } });
    const high = await a.request({ type: 'command.send', targetDeviceId: target!.deviceId, command: { kind: 'task.start', text: 'high', priority: 5 } });
    const b = await connect(target!);
    await waitFor(() => deliveries(b).length >= 2, 'two deliveries');
    assert.deepEqual(
      deliveries(b).map((d) => d.commandId),
      [high.type === 'command.queued' && high.commandId, low.type === 'command.queued' && low.commandId],
    );
  });

  it('redelivers an unanswered command with exponential backoff and stops once it is answered', async () => {
    const [sender, target] = await newUser(2);
    const a = await connect(sender!);
    const b = await connect(target!);
    const seen: number[] = [];
    await a.request({ type: 'command.send', targetDeviceId: target!.deviceId, command: { kind: 'task.start', text: 'retry me' } });
    await waitFor(() => {
      const list = deliveries(b);
      if (list.length > seen.length) seen.push(...list.slice(seen.length).map(() => Date.now()));
      return list.length >= 4;
    }, 'four deliveries', 10_000, 5);
    const list = deliveries(b);
    assert.deepEqual(list.map((d) => d.attempt), [1, 2, 3, 4]);
    const gaps = [seen[1]! - seen[0]!, seen[2]! - seen[1]!, seen[3]! - seen[2]!];
    // Nominal 150, 300, 600 ms; timers may run late but never early.
    assert.ok(gaps[0]! >= RETRY_MS - 20, `gaps ${gaps}`);
    assert.ok(gaps[1]! >= 2 * RETRY_MS - 20, `gaps ${gaps}`);
    assert.ok(gaps[2]! >= 4 * RETRY_MS - 20, `gaps ${gaps}`);
    assert.ok(gaps[2]! > gaps[0]!, `gaps ${gaps}`);
    b.send({ type: 'command.response', id: b.id(), commandId: list[0]!.commandId, status: 'delivered' });
    await a.waitFor((m) => m.type === 'command.result' && m.status === 'delivered', 'delivered result');
    // A second command with a short ttl: its expiry comes after the next retry would have been due.
    await a.request({ type: 'command.send', targetDeviceId: target!.deviceId, command: { kind: 'task.cancel', taskId: 'other', ttlMs: 16 * RETRY_MS } });
    await a.waitFor((m) => m.type === 'command.result' && m.status === 'expired', 'second command expired');
    assert.equal(deliveries(b).filter((d) => d.commandId === list[0]!.commandId).length, 4, 'no delivery after the answer');
  });

  it('expires an unanswered command and tells a sender that was offline when it connects', async () => {
    const [sender, target] = await newUser(2);
    const a = await connect(sender!);
    const queued = await a.request({ type: 'command.send', targetDeviceId: target!.deviceId, command: { kind: 'task.start', text: 'x', ttlMs: 150 } });
    assert.equal(queued.type, 'command.queued');
    await a.close();
    await waitFor(async () => {
      const { rows } = await db.query<{ status: string }>('SELECT status FROM command_queue WHERE id = $1', [
        queued.type === 'command.queued' ? queued.commandId : '',
      ]);
      return rows[0]?.status === 'expired';
    }, 'expiry in the queue');
    const again = await connect(sender!);
    const result = await again.waitFor((m) => m.type === 'command.result', 'result after reconnect');
    assert.deepEqual(result, {
      type: 'command.result',
      commandId: queued.type === 'command.queued' && queued.commandId,
      targetDeviceId: target!.deviceId,
      status: 'expired',
    });
    const b = await connect(target!);
    await b.request({ type: 'ping' });
    assert.equal(deliveries(b).length, 0, 'an expired command is never delivered');
    // Told once: a further reconnect does not repeat it.
    await again.close();
    const third = await connect(sender!);
    await third.request({ type: 'ping' });
    assert.equal(third.received.filter((m) => m.type === 'command.result').length, 0);
  });

  it('extends a command past its ttl when the target reports progress', async () => {
    const [sender, target] = await newUser(2);
    const a = await connect(sender!);
    const b = await connect(target!);
    const queued = await a.request({ type: 'command.send', targetDeviceId: target!.deviceId, command: { kind: 'task.start', text: 'long', ttlMs: 60_000 } });
    if (queued.type !== 'command.queued') return assert.fail(`queued: ${JSON.stringify(queued)}`);
    const delivered = await b.waitFor((m) => m.type === 'command.deliver', 'delivery');
    if (delivered.type !== 'command.deliver') return;
    // Make the remaining ttl short, then report progress: the deadline moves a full ttl ahead.
    await db.query(`UPDATE command_queue SET expires_at = now() + interval '300 milliseconds' WHERE id = $1`, [queued.commandId]);
    b.send({ type: 'command.response', id: b.id(), commandId: delivered.commandId, status: 'progress', result: { step: 1 } });
    const progress = await a.waitFor((m) => m.type === 'command.result' && m.status === 'progress', 'progress');
    assert.deepEqual(progress.type === 'command.result' && progress.result, { step: 1 });
    const { rows } = await db.query<{ left_ms: number }>(
      `SELECT (extract(epoch FROM expires_at - now()) * 1000)::int AS left_ms FROM command_queue WHERE id = $1`,
      [queued.commandId],
    );
    assert.ok(rows[0]!.left_ms > 50_000, `left ${rows[0]!.left_ms} ms`);
    b.send({ type: 'command.response', id: b.id(), commandId: delivered.commandId, status: 'done' });
    await a.waitFor((m) => m.type === 'command.result' && m.status === 'done', 'done');
    assert.equal(a.received.filter((m) => m.type === 'command.result' && m.status === 'expired').length, 0);
  });

  it('gives the later of two simultaneous commands for one task COMMAND_TASK_BUSY', async () => {
    const [one, two, target] = await newUser(3);
    const a = await connect(one!);
    const b = await connect(two!);
    const command = { kind: 'task.approve', taskId: 'busy-task' };
    const replies = await Promise.all([
      a.request({ type: 'command.send', targetDeviceId: target!.deviceId, command }),
      b.request({ type: 'command.send', targetDeviceId: target!.deviceId, command }),
    ]);
    assert.deepEqual(replies.map((r) => (r.type === 'error' ? r.code : r.type)).sort(), ['COMMAND_TASK_BUSY', 'command.queued']);
  });

  it('refuses a command to the sending device itself (COMMAND_TARGET_SELF) and for an unknown command response (COMMAND_UNKNOWN)', async () => {
    const [one] = await newUser(1);
    const a = await connect(one!);
    const self = await a.request({ type: 'command.send', targetDeviceId: one!.deviceId, command: { kind: 'task.start' } });
    assert.equal(self.type === 'error' && self.code, 'COMMAND_TARGET_SELF');
    const unknown = await a.request({ type: 'command.response', commandId: '00000000-0000-4000-8000-000000000000', status: 'done' });
    assert.equal(unknown.type === 'error' && unknown.code, 'COMMAND_UNKNOWN');
  });

  it('fails queued commands of a revoked target with COMMAND_TARGET_REVOKED', async () => {
    const [sender, target] = await newUser(2);
    const a = await connect(sender!);
    await a.request({ type: 'command.send', targetDeviceId: target!.deviceId, command: { kind: 'task.start', text: 'x' } });
    await revokeTestDevice(db, relay.sessions, target!.deviceId);
    const failed = await a.waitFor((m) => m.type === 'command.result' && m.status === 'failed', 'failed result');
    assert.equal(failed.type === 'command.result' && failed.error?.code, 'COMMAND_TARGET_REVOKED');
  });

  it('reports the queue depth (commands not yet acknowledged) in /metrics, a delivered but unanswered one included', async () => {
    const [sender, target] = await newUser(2);
    const a = await connect(sender!);
    const b = await connect(target!);
    const queued = await a.request({ type: 'command.send', targetDeviceId: target!.deviceId, command: { kind: 'task.start', text: 'a' } });
    const commandId = queued.type === 'command.queued' ? queued.commandId : assert.fail(`not queued: ${JSON.stringify(queued)}`);
    // The target got it and has not answered: the relay keeps re-sending it.
    await b.waitFor((m) => m.type === 'command.deliver' && m.commandId === commandId, 'the command');
    const mine = `SELECT count(*)::int AS n FROM command_queue WHERE id = $1 AND status = 'queued' AND expires_at > now()`;
    const text = await relay.metrics.render();
    assert.match(text, /^# HELP roo_sync_command_queue_depth Remote commands not yet acknowledged by their target device/m);
    assert.ok(Number(/^roo_sync_command_queue_depth (\d+)/m.exec(text)?.[1]) >= 1);
    assert.equal((await db.query<{ n: number }>(mine, [commandId])).rows[0]!.n, 1, 'counted by the metric query');
    b.send({ type: 'command.response', id: b.id(), commandId, status: 'delivered' });
    await waitFor(async () => (await db.query<{ n: number }>(mine, [commandId])).rows[0]!.n === 0, 'acknowledged');
  });
});
