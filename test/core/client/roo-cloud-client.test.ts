import assert from 'node:assert/strict';
import { WebSocketServer } from 'ws';
import { isSyncError } from '../../../core/errors';
import { asDeviceId, asTaskId, asUserId } from '../../../core/ids';
import type { ServerChange } from '../../../core/model/changes';
import type { PullPage } from '../../../core/ports/sync-transport';
import type { ClientStatus, RooCloudClient } from '../../../core/node/client/roo-cloud-client';
import { MemoryOutbox } from '../../../core/outbox/memory-outbox';
import { FrameCodec } from '../../../core/protocol/frame';
import type { CommandDeliverMessage, CommandResultMessage, PresenceMessage } from '../../../core/protocol/messages';
import { ClientHarness, unusedPort, waitUntil } from './client-harness';

const HASH = 'b'.repeat(64);
const putBody = (ts: number) => ({
  type: 'stream.put' as const,
  source: 'roo-code' as const,
  taskId: asTaskId('t1'),
  stream: 'ui' as const,
  key: `${ts}:0`,
  hash: HASH,
  entry: { ts, say: 'text' },
});

async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => isSyncError(error, code));
}

/** A ws server that welcomes every hello and then never answers: for timeouts and drops. */
async function silentRelay(): Promise<{ url: string; connections(): number; dropAll(): void; close(): Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/v1/sync' });
  await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
  const codec = new FrameCodec({ codec: 'none' });
  let connections = 0;
  wss.on('connection', (socket) => {
    connections++;
    socket.once('message', () => {
      socket.send(
        codec.encode({
          type: 'welcome',
          protocolVersion: 1,
          codec: 'none',
          userId: asUserId('u'),
          deviceId: asDeviceId('d'),
          serverCursor: 0,
          resync: false,
        }),
      );
    });
  });
  const { port } = wss.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${port}/v1/sync`,
    connections: () => connections,
    dropAll: () => wss.clients.forEach((s) => s.terminate()),
    close: () =>
      new Promise<void>((resolve) => {
        wss.clients.forEach((s) => s.terminate());
        wss.close(() => resolve());
      }),
  };
}

describe('RooCloudClient', () => {
  let harness: ClientHarness;

  beforeEach(async () => {
    harness = await new ClientHarness().start();
  });
  afterEach(async () => {
    await harness.close();
  });

  describe('#start', () => {
    it('goes from connecting to online and reports the welcome', async () => {
      const states: string[] = [];
      const device = harness.device();
      const client = harness.client({}, device);
      client.onStatus((s) => states.push(s.state));
      let welcomed: string | undefined;
      client.onConnected((w) => (welcomed = w.deviceId));
      await harness.online(client);
      assert.equal(welcomed, device.deviceId);
      assert.equal(states.at(-1), 'online');
      assert.equal(client.status.failures, 0);
    });
  });

  describe('#push and #pull', () => {
    it('pushes, pulls, and delivers live changes to the other device', async () => {
      const a = await harness.online(harness.client());
      const b = await harness.online(harness.client());
      const live: ServerChange[] = [];
      b.onLiveChanges((changes) => live.push(...changes));
      const outcome = await a.push([{ clientSeq: 1, baseSeq: null, body: putBody(1) }]);
      assert.deepEqual(outcome, { accepted: [{ clientSeq: 1, seq: 1 }], conflicts: [] });
      await waitUntil(() => live.length === 1, 'live change');
      const page = await b.pull(0, 10);
      assert.deepEqual([page.changes.map((c) => c.seq), page.cursor, page.hasMore], [[1], 1, false]);
    });

    it('passes on a live page too large for a frame as a pull hint', async () => {
      await harness.close();
      harness = await new ClientHarness().start(0, { maxFrameBytes: 4096 });
      const a = await harness.online(harness.client({ codecs: ['deflate'] }));
      const b = await harness.online(harness.client({ codecs: ['none'] }));
      const pages: PullPage[] = [];
      const live: ServerChange[] = [];
      b.onLivePage((page) => pages.push(page));
      b.onLiveChanges((changes) => live.push(...changes));
      await a.push([{ clientSeq: 1, baseSeq: null, body: { ...putBody(1), entry: { ts: 1, text: 'y'.repeat(10_000) } } }]);
      await waitUntil(() => pages.length === 1, 'live page');
      assert.deepEqual(pages[0], { changes: [], cursor: 0, hasMore: true });
      assert.equal(live.length, 0);
      await rejectsWithCode(b.pull(0, 10), 'RELAY_REPLY_TOO_LARGE');
    });

    it('compresses bodies from compressThreshold on: 2 KB goes uncompressed under a 100 KB threshold and compressed under 0', async () => {
      const body = { ...putBody(1), entry: { ts: 1, text: 'lorem ipsum '.repeat(170) } };
      const sentBy = async (compressThreshold: number, clientSeq: number) => {
        const client = await harness.online(harness.client({ codecs: ['deflate'], compressThreshold }));
        assert.equal(client.wire?.compressThreshold, compressThreshold);
        const before = client.wire!.stats;
        await client.push([{ clientSeq, baseSeq: null, body: { ...body, key: `${clientSeq}:0` } }]);
        const after = client.wire!.stats;
        return { body: after.bodyBytesEncoded - before.bodyBytesEncoded, wire: after.wireBytesEncoded - before.wireBytesEncoded };
      };
      const raw = await sentBy(100_000, 1);
      assert.equal(raw.wire, raw.body + 1, 'one header byte, body uncompressed');
      const compressed = await sentBy(0, 2);
      assert.ok(compressed.wire < compressed.body / 4, `compressed ${compressed.body} -> ${compressed.wire} bytes`);
    });

    it('rejects with the relay error code', async () => {
      const a = await harness.online(harness.client());
      await rejectsWithCode(a.sendCommand('nobody', { kind: 'task.start' }), 'COMMAND_TARGET_UNKNOWN');
    });

    it('rejects with CLIENT_DISCONNECTED when not connected', async () => {
      const client = harness.client({ url: `ws://127.0.0.1:${await unusedPort()}/v1/sync` });
      await rejectsWithCode(client.pull(0, 10), 'CLIENT_DISCONNECTED');
    });
  });

  describe('timeouts and drops', () => {
    let silent: Awaited<ReturnType<typeof silentRelay>>;
    beforeEach(async () => {
      silent = await silentRelay();
    });
    afterEach(async () => {
      await silent.close();
    });

    it('rejects with CLIENT_TIMEOUT when no reply comes', async () => {
      const client = await harness.online(harness.client({ url: silent.url, requestTimeoutMs: 100 }));
      await rejectsWithCode(client.pull(0, 10), 'CLIENT_TIMEOUT');
    });

    it('drops a connection whose pings go unanswered and reconnects', async () => {
      const client = await harness.online(harness.client({ url: silent.url, requestTimeoutMs: 50, pingIntervalMs: 20 }));
      assert.equal(client.status.state, 'online');
      await waitUntil(() => silent.connections() >= 2, 'a second connection');
    });

    it('rejects pending requests with CLIENT_DISCONNECTED when the connection drops', async () => {
      const client = await harness.online(harness.client({ url: silent.url }));
      const pending = client.pull(0, 10);
      silent.dropAll();
      await rejectsWithCode(pending, 'CLIENT_DISCONNECTED');
    });
  });

  describe('reconnect', () => {
    it('comes back online after the host restarts on the same port', async () => {
      const client = await harness.online(harness.client());
      const states: string[] = [];
      client.onStatus((s) => states.push(s.state));
      await harness.host.close();
      await waitUntil(() => client.status.state !== 'online', 'client noticed');
      await harness.restartHost();
      await harness.online(client);
      assert.ok(states.includes('connecting'), `states ${states.join(',')}`);
      assert.deepEqual((await client.push([{ clientSeq: 1, baseSeq: null, body: putBody(1) }])).accepted, [{ clientSeq: 1, seq: 1 }]);
    });

    it('backs off exponentially, turns offline after failures and keeps retrying at the cap', async () => {
      const statuses: ClientStatus[] = [];
      const client = harness.client({
        url: `ws://127.0.0.1:${await unusedPort()}/v1/sync`,
        backoff: { initialMs: 10, maxMs: 40, jitter: 0 },
        offlineAfterFailures: 2,
      });
      client.onStatus((s) => statuses.push(s));
      await waitUntil(() => client.status.failures >= 5, 'five failures');
      const scheduled = statuses.filter((s) => s.nextRetryAt !== null);
      const byFailures = new Map(scheduled.map((s) => [s.failures, s] as const));
      assert.equal(byFailures.get(1)!.state, 'connecting');
      assert.equal(byFailures.get(2)!.state, 'offline');
      assert.equal(byFailures.get(5)!.state, 'offline');
      assert.equal(byFailures.get(5)!.stopped, false, 'never gives up');
      assert.equal(byFailures.get(1)!.lastError?.code, 'CLIENT_CONNECT_FAILED');
      assert.deepEqual([1, 2, 3, 4, 5].map((n) => byFailures.get(n)!.retryDelayMs), [10, 20, 40, 40, 40]);
    });

    it('keeps backing off when the relay ends each connection right after the welcome (rate limit)', async () => {
      const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/v1/sync' });
      await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
      const codec = new FrameCodec({ codec: 'none' });
      wss.on('connection', (socket) => {
        socket.once('message', () => {
          const welcome = { type: 'welcome', protocolVersion: 1, codec: 'none', userId: asUserId('u'), deviceId: asDeviceId('d'), serverCursor: 0, resync: false } as const;
          socket.send(codec.encode(welcome));
          socket.close(4429, 'rate limited');
        });
      });
      try {
        const url = `ws://127.0.0.1:${(wss.address() as { port: number }).port}/v1/sync`;
        const statuses: ClientStatus[] = [];
        const client = harness.client({ url, backoff: { initialMs: 10, maxMs: 80, jitter: 0 } });
        client.onStatus((s) => statuses.push(s));
        await waitUntil(() => statuses.filter((s) => s.retryDelayMs !== null).length >= 4, 'four retries');
        const delays = statuses.filter((s) => s.retryDelayMs !== null).map((s) => s.retryDelayMs);
        assert.deepEqual(delays.slice(0, 4), [10, 20, 40, 80]);
        assert.equal(statuses.find((s) => s.retryDelayMs === 80)!.lastError?.code, 'CLOSE_RATE_LIMITED');
        await client.close();
        // A connection that lasted stableAfterMs starts the backoff over.
        const stableStatuses: ClientStatus[] = [];
        const stable = harness.client({ url, backoff: { initialMs: 10, maxMs: 80, jitter: 0 }, stableAfterMs: 0 });
        stable.onStatus((s) => stableStatuses.push(s));
        await waitUntil(() => stableStatuses.filter((s) => s.retryDelayMs !== null).length >= 3, 'three retries');
        assert.deepEqual(stableStatuses.filter((s) => s.retryDelayMs !== null).map((s) => s.retryDelayMs).slice(0, 3), [10, 10, 10]);
      } finally {
        wss.clients.forEach((socket) => socket.terminate());
        await new Promise<void>((resolve) => wss.close(() => resolve()));
      }
    });

    it('stops reconnecting after a final close code and says why', async () => {
      const device = harness.device();
      const client = await harness.online(harness.client({}, device));
      harness.relay.revokeDevice(device.deviceId);
      await waitUntil(() => client.status.stopped, 'client stopped');
      assert.equal(client.status.state, 'offline');
      assert.equal(client.status.lastError?.code, 'CLOSE_FORBIDDEN');
      assert.equal(client.status.nextRetryAt, null);
    });
  });

  describe('outbox drain', () => {
    it('drains the outbox in clientSeq order in batches on connect and acknowledges it', async () => {
      const outbox = new MemoryOutbox();
      await outbox.enqueue(Array.from({ length: 5 }, (_, i) => ({ body: putBody(i + 1), baseSeq: null })));
      const batches: number[][] = [];
      const acknowledge = outbox.acknowledge.bind(outbox);
      outbox.acknowledge = async (seqs) => {
        batches.push([...seqs]);
        await acknowledge(seqs);
      };
      const client = harness.client({ outbox, drainBatchSize: 2 });
      await waitUntil(() => outbox.size === 0, 'outbox drained');
      assert.deepEqual(batches, [[1, 2], [3, 4], [5]]);
      assert.equal(harness.relay.serverCursor(harness.userId), 5);
      const page = await client.pull(0, 10);
      assert.deepEqual(page.changes.map((c) => [c.seq, c.clientSeq]), [[1, 1], [2, 2], [3, 3], [4, 4], [5, 5]]);
    });

    it('drains what was queued while offline after a reconnect', async () => {
      const outbox = new MemoryOutbox();
      const client = await harness.online(harness.client({ outbox }));
      await harness.host.close();
      await waitUntil(() => client.status.state !== 'online', 'offline');
      await outbox.enqueue([{ body: putBody(7), baseSeq: null }]);
      await harness.restartHost();
      await waitUntil(() => outbox.size === 0, 'outbox drained after reconnect');
      assert.equal(harness.relay.serverCursor(harness.userId), 1);
    });

    /** A task.meta body for task t1 with one fixed clock: two devices writing it conflict. */
    const meta = (title: string) => ({
      type: 'task.meta' as const,
      source: 'roo-code' as const,
      taskId: asTaskId('t1'),
      fields: { task: title },
      clocks: { task: '000000000000001-000000-x' },
    });

    it('hands conflicts to the listener and acknowledges them', async () => {
      const a = await harness.online(harness.client());
      await a.push([{ clientSeq: 1, baseSeq: null, body: meta('a') }]);
      const outbox = new MemoryOutbox();
      await outbox.enqueue([{ body: meta('b'), baseSeq: null }]);
      const client = harness.client({ outbox });
      const seen: number[] = [];
      client.onDrainConflicts(({ conflicts }) => seen.push(...conflicts.map((c) => c.current.seq)));
      await waitUntil(() => outbox.size === 0, 'conflict acknowledged');
      assert.deepEqual(seen, [1]);
    });

    it('keeps a conflicting change queued when the conflict listener fails, and acknowledges it only after an async listener settles', async () => {
      const a = await harness.online(harness.client());
      await a.push([{ clientSeq: 1, baseSeq: null, body: meta('a') }]);
      const outbox = new MemoryOutbox();
      await outbox.enqueue([{ body: meta('b'), baseSeq: null }]);
      const failing = harness.client({ outbox });
      let calls = 0;
      const remove = failing.onDrainConflicts(() => {
        calls++;
        throw new Error('resolver down');
      });
      await harness.online(failing);
      await waitUntil(() => calls === 1, 'listener called');
      await failing.flush();
      assert.equal(outbox.size, 1, 'a change whose conflict was not taken over stays queued');
      remove();
      let finish!: () => void;
      const taken = new Promise<void>((resolve) => (finish = resolve));
      let started = false;
      failing.onDrainConflicts(async () => {
        started = true;
        await taken;
      });
      await harness.host.close();
      await waitUntil(() => failing.status.state !== 'online', 'offline');
      await harness.restartHost();
      await waitUntil(() => started, 'async listener called after the reconnect');
      assert.equal(outbox.size, 1, 'not acknowledged while the listener works');
      finish();
      await waitUntil(() => outbox.size === 0, 'acknowledged once the listener settled');
    });
  });

  describe('remote commands and presence', () => {
    it('delivers a command once, acknowledges it, and reports results to the sender', async () => {
      const a = await harness.online(harness.client());
      const bDevice = harness.device();
      const b = await harness.online(harness.client({}, bDevice));
      const results: CommandResultMessage[] = [];
      a.onCommandResult((r) => results.push(r));
      const commands: CommandDeliverMessage[] = [];
      b.onCommand((c) => commands.push(c));
      const queued = await a.sendCommand(bDevice.deviceId, { kind: 'task.start', text: 'go' });
      await waitUntil(() => commands.length === 1, 'command delivered');
      assert.equal(commands[0]!.commandId, queued.commandId);
      await b.sendCommandResponse(queued.commandId, 'done', { ok: true });
      await waitUntil(() => results.some((r) => r.status === 'done'), 'done result');
      assert.deepEqual(results.map((r) => r.status), ['delivered', 'done']);
      assert.equal(commands.length, 1);
    });

    it('leaves a command to redelivery while no listener takes it', async () => {
      await harness.close();
      harness = await new ClientHarness({ commandRetryInitialMs: 20, commandRetryMaxMs: 20 }).start();
      const a = await harness.online(harness.client());
      const bDevice = harness.device();
      const b = await harness.online(harness.client({}, bDevice));
      const results: CommandResultMessage[] = [];
      a.onCommandResult((r) => results.push(r));
      const { commandId } = await a.sendCommand(bDevice.deviceId, { kind: 'task.start', text: 'later' });
      await waitUntil(() => (harness.relay.commandState(commandId)?.attempt ?? 0) >= 2, 'two unanswered deliveries');
      assert.equal(harness.relay.commandState(commandId)!.acknowledged, false);
      const commands: CommandDeliverMessage[] = [];
      b.onCommand((c) => commands.push(c));
      await waitUntil(() => commands.length === 1, 'redelivered command');
      assert.ok(commands[0]!.attempt >= 2, `attempt ${commands[0]!.attempt}`);
      await waitUntil(() => results.length === 1, 'delivered result');
      assert.equal(results[0]!.status, 'delivered');
    });

    it('reports presence of the other devices', async () => {
      const a = await harness.online(harness.client());
      const seen: PresenceMessage[] = [];
      a.onPresence((p) => seen.push(p));
      const bDevice = harness.device();
      const b = await harness.online(harness.client({}, bDevice));
      b.updatePresence('busy', asTaskId('t1'));
      await waitUntil(() => seen.some((p) => p.state === 'busy'), 'busy presence');
      assert.deepEqual(seen.at(-1), { type: 'presence', deviceId: asDeviceId(bDevice.deviceId), state: 'busy', activeTaskId: 't1' });
    });
  });

  describe('#close', () => {
    it('is idempotent and fails later calls with CLIENT_CLOSED', async () => {
      const client: RooCloudClient = await harness.online(harness.client());
      await Promise.all([client.close(), client.close()]);
      await client.close();
      assert.equal(client.status.stopped, true);
      await rejectsWithCode(client.pull(0, 1), 'CLIENT_CLOSED');
    });
  });
});
