/**
 * The protocol conformance suite: what any relay must do on the wire (DESIGN.md "Wire
 * protocol", "Ordering, idempotency, cursors", "Server"). It speaks raw frames over a real
 * WebSocket and knows nothing of a relay's internals, so the in-memory reference relay (behind
 * its ws host) and the real relay (server/) run the very same tests:
 *
 *   runProtocolConformance('ReferenceRelay over ws', async (options) => startMyRelay(options));
 *
 * Every test makes its own users, so one relay serves the whole suite.
 */
import assert from 'node:assert/strict';
import { CloseCode } from '../../core/protocol/close-codes';
import { deflateRawSync } from 'node:zlib';
import { CODEC_IDS } from '../../core/protocol/codecs';
import { FrameCodec, frameHeaderByte } from '../../core/protocol/frame';
import type { ClientMessage, ServerMessage } from '../../core/protocol/messages';
import { RawWsClient, WAIT_MS } from './raw-ws-client';

/** Limits the suite asks the relay under test to run with. */
export interface ConformanceOptions {
  /** Close with HelloTimeout (4408) when no hello arrived within this time. */
  helloTimeoutMs: number;
  /** Largest frame accepted; a larger one closes with FrameTooLarge (4413). */
  maxFrameBytes: number;
  /** Largest inflated frame body; a larger one is an error and closes with FrameTooLarge. */
  maxInflatedBytes: number;
}

/** A running relay, seen only through its URL and its admin operations. */
export interface RelayUnderTest {
  /** `ws://127.0.0.1:<port>/v1/sync`. */
  url: string;
  createUser(): Promise<string>;
  createDevice(userId: string): Promise<{ deviceId: string; token: string }>;
  /** Revokes a device; its open sockets must close with Forbidden (4403). */
  revokeDevice(deviceId: string): Promise<void>;
  /**
   * Compacts the user's whole log now: removes every change a later change of its entity
   * superseded (truncates and the latest change of each entity stay). Optional: without it the
   * suite skips what needs compaction.
   */
  compact?(userId: string): Promise<void>;
  close(): Promise<void>;
}

export const CONFORMANCE_OPTIONS: ConformanceOptions = {
  helloTimeoutMs: 300,
  maxFrameBytes: 256 * 1024,
  maxInflatedBytes: 512 * 1024,
};

interface Device {
  deviceId: string;
  token: string;
}

const HASH = 'a'.repeat(64);

function put(clientSeq: number, taskId: string, ts: number, text = 'hello') {
  return {
    clientSeq,
    baseSeq: null,
    body: { type: 'stream.put', source: 'roo-code', taskId, stream: 'ui', key: `${ts}:0`, hash: HASH, entry: { ts, say: 'text', text } },
  };
}

function meta(clientSeq: number, taskId: string, baseSeq: number | null, title: string) {
  return {
    clientSeq,
    baseSeq,
    body: {
      type: 'task.meta',
      source: 'roo-code',
      taskId,
      fields: { task: title },
      clocks: { task: `${String(Date.now()).padStart(15, '0')}-000000-dev` },
    },
  };
}

/** Every error frame the relay sent names a FRAME_* or PROTOCOL_* code. */
function assertCodedErrorsOnly(client: RawWsClient): void {
  assert.deepEqual(client.undecodable, []);
  for (const message of client.received) {
    if (message.type === 'error') assert.match(message.code, /^(PROTOCOL|FRAME)_[A-Z0-9_]+$/);
  }
}

function codeOf(message: ServerMessage): string | undefined {
  return message.type === 'error' ? message.code : undefined;
}

export function runProtocolConformance(
  label: string,
  setup: (options: ConformanceOptions) => Promise<RelayUnderTest>,
): void {
  describe(`protocol conformance: ${label}`, function () {
    this.timeout(20_000);
    let relay: RelayUnderTest;
    const clients: RawWsClient[] = [];

    before(async () => {
      relay = await setup(CONFORMANCE_OPTIONS);
    });
    afterEach(async () => {
      await Promise.all(clients.splice(0).map((c) => c.close()));
    });
    after(async () => {
      await relay?.close();
    });

    async function open(): Promise<RawWsClient> {
      const client = await RawWsClient.open(relay.url);
      clients.push(client);
      return client;
    }

    async function newUser(devices: number): Promise<{ userId: string; devices: Device[] }> {
      const userId = await relay.createUser();
      const list: Device[] = [];
      for (let i = 0; i < devices; i++) list.push(await relay.createDevice(userId));
      return { userId, devices: list };
    }

    /** Opens a socket, says hello and waits for the welcome. */
    async function connect(
      device: Device,
      opts: { cursor?: number; codecs?: string[] } = {},
    ): Promise<{ client: RawWsClient; welcome: Extract<ServerMessage, { type: 'welcome' }> }> {
      const client = await open();
      client.send({
        type: 'hello',
        protocolVersions: [1],
        codecs: opts.codecs ?? ['none'],
        token: device.token,
        deviceId: device.deviceId,
        cursor: opts.cursor ?? 0,
      });
      const welcome = await client.waitFor((m) => m.type === 'welcome', 'welcome');
      assert.equal(welcome.type, 'welcome');
      client.useCodec(welcome.codec);
      return { client, welcome };
    }

    /** Sends a ping and waits for its pong: everything the relay sent before it has arrived. */
    async function roundTrip(client: RawWsClient): Promise<void> {
      const pong = await client.request({ type: 'ping' });
      assert.equal(pong.type, 'pong');
    }

    async function push(client: RawWsClient, changes: unknown[]): Promise<ServerMessage> {
      return client.request({ type: 'push', changes });
    }

    async function pullAll(client: RawWsClient, cursor = 0, limit = 1000): Promise<Array<{ seq: number; clientSeq: number; deviceId: string }>> {
      const all: Array<{ seq: number; clientSeq: number; deviceId: string }> = [];
      for (;;) {
        const page = await client.request({ type: 'pull', cursor, limit });
        assert.equal(page.type, 'changes');
        if (page.type !== 'changes') return all;
        all.push(...page.changes);
        cursor = page.cursor;
        if (!page.hasMore) return all;
      }
    }

    describe('hello', () => {
      it('answers hello with a welcome naming the device, version and codec', async () => {
        const { userId, devices } = await newUser(1);
        const { welcome } = await connect(devices[0]!);
        assert.equal(welcome.type === 'welcome' && welcome.protocolVersion, 1);
        assert.equal(welcome.deviceId, devices[0]!.deviceId);
        assert.equal(welcome.userId, userId);
        assert.equal(welcome.serverCursor, 0);
        assert.equal(welcome.resync, false);
        assert.equal(welcome.codec, 'none');
        assert.equal(welcome.lastClientSeq, 0, 'a device that never pushed');
      });

      it('picks a codec both sides speak and ignores codec names it does not know', async () => {
        const { devices } = await newUser(2);
        const { client: a, welcome } = await connect(devices[0]!, { codecs: ['x-unknown', 'deflate', 'none'] });
        assert.ok(['deflate', 'none'].includes(welcome.codec), `codec ${welcome.codec}`);
        const { client: b } = await connect(devices[1]!, { codecs: ['deflate'] });
        // Big enough to be compressed by any threshold: it must survive both directions.
        const text = 'the quick brown fox jumps over the lazy dog '.repeat(200);
        const ack = await push(a, [put(1, 't1', 1000, text)]);
        assert.equal(ack.type, 'ack');
        const live = await b.waitFor((m) => m.type === 'changes' && m.replyTo === undefined, 'live changes');
        assert.equal(live.type === 'changes' && (live.changes[0]!.body as { entry: { text: string } }).entry.text, text);
        assert.deepEqual([a.undecodable, b.undecodable], [[], []]);
      });

      it('closes with Unauthorized (4401) for a missing or bad token', async () => {
        const { devices } = await newUser(1);
        const bad = await open();
        bad.send({ type: 'hello', protocolVersions: [1], codecs: ['none'], token: 'not-a-token', deviceId: devices[0]!.deviceId, cursor: 0 });
        assert.equal((await bad.waitClosed()).code, CloseCode.Unauthorized);
        const missing = await open();
        missing.send({ type: 'hello', protocolVersions: [1], codecs: ['none'], deviceId: devices[0]!.deviceId, cursor: 0 });
        assert.equal((await missing.waitClosed()).code, CloseCode.Unauthorized);
      });

      it('closes with Forbidden (4403) when the token belongs to another device', async () => {
        const { devices } = await newUser(2);
        const client = await open();
        client.send({ type: 'hello', protocolVersions: [1], codecs: ['none'], token: devices[1]!.token, deviceId: devices[0]!.deviceId, cursor: 0 });
        assert.equal((await client.waitClosed()).code, CloseCode.Forbidden);
      });

      it('closes with UnsupportedVersion (4406) when no version is shared', async () => {
        const { devices } = await newUser(1);
        const client = await open();
        client.send({ type: 'hello', protocolVersions: [999], codecs: ['none'], token: devices[0]!.token, deviceId: devices[0]!.deviceId, cursor: 0 });
        assert.equal((await client.waitClosed()).code, CloseCode.UnsupportedVersion);
      });

      it('closes with HelloTimeout (4408) when hello never comes', async () => {
        const client = await open();
        const started = Date.now();
        const closed = await client.waitClosed(CONFORMANCE_OPTIONS.helloTimeoutMs + WAIT_MS);
        assert.equal(closed.code, CloseCode.HelloTimeout);
        assert.ok(Date.now() - started >= CONFORMANCE_OPTIONS.helloTimeoutMs - 50);
      });

      it('asks for a resync when the cursor is ahead of the log', async () => {
        const { devices } = await newUser(1);
        const { welcome } = await connect(devices[0]!, { cursor: 50 });
        assert.equal(welcome.serverCursor, 0);
        assert.equal(welcome.resync, true);
      });

      it('accepts a valid token in auth and closes with Unauthorized (4401) for a bad one', async () => {
        const { devices } = await newUser(1);
        const { client } = await connect(devices[0]!);
        const ok = await client.request({ type: 'auth', token: devices[0]!.token });
        assert.equal(ok.type, 'auth.ok');
        client.send({ type: 'auth', id: client.id(), token: 'not-a-token' });
        assert.equal((await client.waitClosed()).code, CloseCode.Unauthorized);
      });

      it('closes with ProtocolError (4400) when the first message is not hello', async () => {
        const client = await open();
        client.send({ type: 'ping', id: 'p1' });
        assert.equal((await client.waitClosed()).code, CloseCode.ProtocolError);
      });
    });

    describe('push and pull', () => {
      it('acks a push naming its id, with consecutive seqs in push order', async () => {
        const { devices } = await newUser(1);
        const { client } = await connect(devices[0]!);
        const first = await push(client, [put(1, 't1', 1), put(2, 't1', 2), put(3, 't1', 3)]);
        assert.equal(first.type, 'ack');
        assert.deepEqual(first.type === 'ack' && first.accepted, [
          { clientSeq: 1, seq: 1 },
          { clientSeq: 2, seq: 2 },
          { clientSeq: 3, seq: 3 },
        ]);
        const second = await push(client, [put(4, 't1', 4)]);
        assert.deepEqual(second.type === 'ack' && second.accepted, [{ clientSeq: 4, seq: 4 }]);
      });

      it('answers a replayed push with the original seqs and stores it once', async () => {
        const { devices } = await newUser(1);
        const { client } = await connect(devices[0]!);
        const batch = [put(1, 't1', 1), put(2, 't1', 2)];
        const first = await push(client, batch);
        const replay = await push(client, [...batch, put(3, 't1', 3)]);
        assert.equal(replay.type, 'ack');
        assert.deepEqual(replay.type === 'ack' && replay.accepted, [
          ...(first.type === 'ack' ? first.accepted : []),
          { clientSeq: 3, seq: 3 },
        ]);
        assert.deepEqual((await pullAll(client)).map((c) => c.seq), [1, 2, 3]);
      });

      it('names in the welcome the highest clientSeq accepted from the device, compacted changes included', async () => {
        const { userId, devices } = await newUser(2);
        const [a, b] = [devices[0]!, devices[1]!];
        const { client: ca } = await connect(a);
        const { client: cb } = await connect(b);
        assert.equal((await push(ca, [put(1, 't1', 1000), put(2, 't1', 2000), put(4, 't1', 3000)])).type, 'ack');
        assert.equal((await push(cb, [meta(10, 't2', null, 'by b')])).type, 'ack');
        // b rewrites the entry a pushed as clientSeq 4: a's version is superseded.
        assert.equal((await push(cb, [put(11, 't1', 3000, 'by b')])).type, 'ack');
        // A change refused as a conflict was not accepted: it does not count.
        assert.equal((await push(ca, [meta(7, 't2', null, 'by a')])).type, 'conflict');
        assert.equal((await connect(a)).welcome.lastClientSeq, 4);
        assert.equal((await connect(b)).welcome.lastClientSeq, 11);
        if (!relay.compact) return;

        await relay.compact(userId);
        const compacted = await pullAll(cb);
        const fromA = () => compacted.filter((c) => c.deviceId === a.deviceId).map((c) => c.clientSeq);
        assert.deepEqual(fromA(), [1, 2], "compaction removed a's clientSeq 4");
        const { client: again, welcome } = await connect(a);
        assert.equal(welcome.lastClientSeq, 4, 'the mark counts changes compaction removed');
        // Which is why: a clientSeq at or below it is acknowledged without being stored.
        assert.equal((await push(again, [put(4, 't1', 4000, 'a new change under an old number')])).type, 'ack');
        assert.equal((await push(again, [put(5, 't1', 4000, 'above the mark')])).type, 'ack');
        const after = (await pullAll(again)).filter((c) => c.deviceId === a.deviceId);
        assert.deepEqual(after.map((c) => c.clientSeq), [1, 2, 5]);
        assert.equal((await connect(a)).welcome.lastClientSeq, 5);
      });

      it('keeps one gapless order per user while two devices push concurrently', async () => {
        const { devices } = await newUser(2);
        const { client: a } = await connect(devices[0]!);
        const { client: b } = await connect(devices[1]!);
        const batches = 15;
        const pushes: Array<Promise<ServerMessage>> = [];
        for (let i = 0; i < batches; i++) {
          pushes.push(push(a, [put(2 * i + 1, 'ta', 10 * i), put(2 * i + 2, 'ta', 10 * i + 1)]));
          pushes.push(push(b, [put(2 * i + 1, 'tb', 10 * i), put(2 * i + 2, 'tb', 10 * i + 1)]));
        }
        const replies = await Promise.all(pushes);
        const seqs: number[] = [];
        for (const reply of replies) {
          assert.equal(reply.type, 'ack');
          if (reply.type !== 'ack') continue;
          assert.equal(reply.accepted[1]!.seq, reply.accepted[0]!.seq + 1, 'one push gets consecutive seqs');
          seqs.push(...reply.accepted.map((x) => x.seq));
        }
        const count = batches * 4;
        assert.deepEqual([...seqs].sort((x, y) => x - y), Array.from({ length: count }, (_, i) => i + 1));
        const log = await pullAll(b);
        assert.deepEqual(log.map((c) => c.seq), Array.from({ length: count }, (_, i) => i + 1));
        const fromA = log.filter((c) => c.deviceId === devices[0]!.deviceId).map((c) => c.clientSeq);
        assert.deepEqual(fromA, Array.from({ length: batches * 2 }, (_, i) => i + 1), "a device's changes keep its order");
      });

      it('pages a pull by cursor with hasMore', async () => {
        const { devices } = await newUser(1);
        const { client } = await connect(devices[0]!);
        await push(client, Array.from({ length: 25 }, (_, i) => put(i + 1, 't1', i)));
        const pages: Array<[number, number, boolean]> = [];
        let cursor = 0;
        for (let guard = 0; guard < 10; guard++) {
          const page = await client.request({ type: 'pull', cursor, limit: 10 });
          assert.equal(page.type, 'changes');
          if (page.type !== 'changes') break;
          pages.push([page.changes.length, page.cursor, page.hasMore]);
          cursor = page.cursor;
          if (!page.hasMore) break;
        }
        assert.deepEqual(pages, [
          [10, 10, true],
          [10, 20, true],
          [5, 25, false],
        ]);
        const { welcome } = await connect(devices[0]!, { cursor: 25 });
        assert.equal(welcome.serverCursor, 25);
      });

      it('sends live changes to the other devices of the user only, never back to the sender', async () => {
        const { devices } = await newUser(2);
        const stranger = (await newUser(1)).devices[0]!;
        const { client: a } = await connect(devices[0]!);
        const { client: b } = await connect(devices[1]!);
        const { client: c } = await connect(stranger);
        await push(a, [put(1, 't1', 1), put(2, 't1', 2)]);
        const live = await b.waitFor((m) => m.type === 'changes' && m.replyTo === undefined, 'live changes');
        assert.equal(live.type, 'changes');
        if (live.type === 'changes') {
          assert.deepEqual(live.changes.map((x) => [x.seq, x.deviceId, x.entity]), [
            [1, devices[0]!.deviceId, 'stream/roo-code/t1/ui/1:0'],
            [2, devices[0]!.deviceId, 'stream/roo-code/t1/ui/2:0'],
          ]);
          assert.equal(live.cursor, 2);
        }
        await roundTrip(a);
        await roundTrip(c);
        assert.equal(a.received.filter((m) => m.type === 'changes').length, 0, 'no echo to the sender');
        assert.equal(c.received.filter((m) => m.type === 'changes').length, 0, 'nothing to another user');
      });

      it('returns a conflict with the current version when a non-mergeable baseSeq is stale', async () => {
        const { devices } = await newUser(2);
        const { client: a } = await connect(devices[0]!);
        const { client: b } = await connect(devices[1]!);
        const created = await push(a, [meta(1, 't1', null, 'first')]);
        assert.deepEqual(created.type === 'ack' && created.accepted, [{ clientSeq: 1, seq: 1 }]);
        const updated = await push(a, [meta(2, 't1', 1, 'second')]);
        assert.deepEqual(updated.type === 'ack' && updated.accepted, [{ clientSeq: 2, seq: 2 }]);
        const stale = await push(b, [meta(1, 't1', 1, 'other'), put(2, 't1', 5)]);
        assert.equal(stale.type, 'conflict');
        if (stale.type !== 'conflict') return;
        assert.deepEqual(stale.accepted, [{ clientSeq: 2, seq: 3 }]);
        assert.equal(stale.conflicts.length, 1);
        assert.equal(stale.conflicts[0]!.clientSeq, 1);
        assert.equal(stale.conflicts[0]!.entity, 'task/roo-code/t1');
        assert.equal(stale.conflicts[0]!.current.seq, 2);
        assert.deepEqual((stale.conflicts[0]!.current.body as { fields: unknown }).fields, { task: 'second' });
      });

      it("accepts a device's own queued edits of one entity without a conflict, and conflicts once another device wrote", async () => {
        const { devices } = await newUser(2);
        const { client: a } = await connect(devices[0]!);
        const { client: b } = await connect(devices[1]!);
        // Three offline edits queued against the version the device had seen (none, then none again).
        const queued = await push(a, [meta(1, 't1', null, 'one'), meta(2, 't1', null, 'two'), meta(3, 't1', null, 'three')]);
        assert.deepEqual(queued.type === 'ack' && queued.accepted, [
          { clientSeq: 1, seq: 1 },
          { clientSeq: 2, seq: 2 },
          { clientSeq: 3, seq: 3 },
        ]);
        const other = await push(b, [meta(1, 't1', 3, 'from b')]);
        assert.deepEqual(other.type === 'ack' && other.accepted, [{ clientSeq: 1, seq: 4 }]);
        const late = await push(a, [meta(4, 't1', 3, 'four')]);
        assert.equal(late.type, 'conflict');
        if (late.type === 'conflict') assert.equal(late.conflicts[0]!.current.seq, 4);
      });

      it("never shows one user's data to another", async () => {
        const mine = await newUser(1);
        const theirs = await newUser(1);
        const { client: a } = await connect(mine.devices[0]!);
        await push(a, [put(1, 'secret', 1)]);
        const { client: c, welcome } = await connect(theirs.devices[0]!);
        assert.equal(welcome.serverCursor, 0);
        assert.deepEqual(await pullAll(c), []);
        const reply = await c.request({ type: 'command.send', targetDeviceId: mine.devices[0]!.deviceId, command: { kind: 'task.start', text: 'x' } });
        assert.equal(codeOf(reply), 'COMMAND_TARGET_UNKNOWN');
      });
    });

    describe('bad input', () => {
      it('answers an unknown message type with a coded error and keeps serving', async () => {
        const { devices } = await newUser(1);
        const { client } = await connect(devices[0]!);
        const reply = await client.request({ type: 'no.such.type' });
        assert.equal(codeOf(reply), 'PROTOCOL_UNKNOWN_TYPE');
        const invalid = await client.request({ type: 'pull', cursor: -5, limit: 10 });
        assert.equal(codeOf(invalid), 'PROTOCOL_INVALID_FIELD');
        await roundTrip(client);
      });

      it('answers a frame that is not JSON with a coded error and closes with ProtocolError (4400)', async () => {
        const { devices } = await newUser(2);
        const { client } = await connect(devices[0]!);
        const frame = new FrameCodec({ codec: 'none' }).encode({ type: 'ping', id: 'xx' } as ClientMessage);
        frame.fill(0x7b, 1); // '{{{{...': broken JSON behind a valid header
        client.sendBytes(frame);
        assert.equal((await client.waitClosed()).code, CloseCode.ProtocolError);
        assertCodedErrorsOnly(client);
        const { client: other } = await connect(devices[1]!);
        await roundTrip(other);
      });

      it('closes with ProtocolError (4400) for a frame with an unknown header', async () => {
        const { devices } = await newUser(1);
        const { client } = await connect(devices[0]!);
        const frame = new FrameCodec({ codec: 'none' }).encode({ type: 'ping', id: 'xx' } as ClientMessage);
        frame[0] = 0xff;
        client.sendBytes(frame);
        assert.equal((await client.waitClosed()).code, CloseCode.ProtocolError);
        assertCodedErrorsOnly(client);
      });

      it('closes with ProtocolError (4400) for a compressed hello', async () => {
        const { devices } = await newUser(1);
        const hello = { type: 'hello', protocolVersions: [1], codecs: ['deflate'], token: devices[0]!.token, deviceId: devices[0]!.deviceId, cursor: 0 };
        const client = await open();
        client.sendBytes(new Uint8Array([frameHeaderByte(CODEC_IDS.deflate), ...deflateRawSync(JSON.stringify(hello))]));
        const closed = await client.waitClosed();
        assert.equal(closed.code, CloseCode.ProtocolError);
        assert.equal(client.received.filter((m) => m.type === 'welcome').length, 0);
      });

      it('closes with FrameTooLarge (4413) for an oversize frame and keeps serving others', async () => {
        const { devices } = await newUser(2);
        const { client } = await connect(devices[0]!);
        const { client: other } = await connect(devices[1]!);
        client.sendBytes(new Uint8Array(CONFORMANCE_OPTIONS.maxFrameBytes + 1024).fill(0x20));
        assert.equal((await client.waitClosed()).code, CloseCode.FrameTooLarge);
        await roundTrip(other);
      });

      it('closes with FrameTooLarge (4413) for a deflate bomb and keeps serving others', async () => {
        const { devices } = await newUser(2);
        const { client } = await connect(devices[0]!, { codecs: ['deflate', 'none'] });
        const { client: other } = await connect(devices[1]!);
        const body = JSON.stringify({ type: 'ping', id: 'bomb', pad: ' '.repeat(CONFORMANCE_OPTIONS.maxInflatedBytes * 2) });
        const bomb = new Uint8Array([frameHeaderByte(CODEC_IDS.deflate), ...deflateRawSync(body, { level: 9 })]);
        assert.ok(bomb.length < CONFORMANCE_OPTIONS.maxFrameBytes / 8, 'the bomb itself is small');
        client.sendBytes(bomb);
        assert.equal((await client.waitClosed()).code, CloseCode.FrameTooLarge);
        assert.equal(client.received.filter((m) => m.type === 'pong').length, 0);
        assertCodedErrorsOnly(client);
        await roundTrip(other);
      });

      it('refuses text frames with a coded error or ProtocolError', async () => {
        const { devices } = await newUser(1);
        const { client } = await connect(devices[0]!);
        client.sendText(JSON.stringify({ type: 'ping', id: 'text' }));
        const outcome = await Promise.race([
          client.waitFor((m) => m.type === 'error', 'error frame').then((m) => codeOf(m)),
          client.closed.then((c) => c.code),
        ]);
        if (typeof outcome === 'string') assert.match(outcome, /^(PROTOCOL|FRAME)_/);
        else assert.equal(outcome, CloseCode.ProtocolError);
      });
    });

    describe('remote commands', () => {
      it('queues a command for an offline device, delivers it when it connects and reports the result', async () => {
        const { devices } = await newUser(2);
        const [sender, target] = devices as [Device, Device];
        const { client: a } = await connect(sender);
        const queued = await a.request({ type: 'command.send', targetDeviceId: target.deviceId, command: { kind: 'task.start', text: 'build it' } });
        assert.equal(queued.type, 'command.queued');
        if (queued.type !== 'command.queued') return;
        assert.ok(queued.expiresAt > Date.now() - 1000);
        const { client: b } = await connect(target);
        const delivered = await b.waitFor((m) => m.type === 'command.deliver', 'command.deliver');
        assert.equal(delivered.type, 'command.deliver');
        if (delivered.type !== 'command.deliver') return;
        assert.equal(delivered.commandId, queued.commandId);
        assert.equal(delivered.fromDeviceId, sender.deviceId);
        assert.deepEqual(delivered.command, { kind: 'task.start', text: 'build it' });
        b.send({ type: 'command.response', id: b.id(), commandId: delivered.commandId, status: 'delivered' });
        b.send({ type: 'command.response', id: b.id(), commandId: delivered.commandId, status: 'done', result: { taskId: 't9' } });
        const done = await a.waitFor((m) => m.type === 'command.result' && m.status === 'done', 'done result');
        assert.deepEqual(done, { type: 'command.result', commandId: queued.commandId, targetDeviceId: target.deviceId, status: 'done', result: { taskId: 't9' } });
        assert.ok(a.received.some((m) => m.type === 'command.result' && m.status === 'delivered'));
      });

      it('redelivers an unanswered command after the target reconnects', async () => {
        const { devices } = await newUser(2);
        const [sender, target] = devices as [Device, Device];
        const { client: a } = await connect(sender);
        const { client: b } = await connect(target);
        const queued = await a.request({ type: 'command.send', targetDeviceId: target.deviceId, command: { kind: 'task.cancel', taskId: 't1' } });
        const first = await b.waitFor((m) => m.type === 'command.deliver', 'first delivery');
        await b.close();
        const { client: again } = await connect(target);
        const second = await again.waitFor((m) => m.type === 'command.deliver', 'redelivery');
        assert.equal(second.type === 'command.deliver' && second.commandId, queued.type === 'command.queued' && queued.commandId);
        assert.ok(second.type === 'command.deliver' && first.type === 'command.deliver' && second.attempt > first.attempt);
      });

      it('tells the sender when a command expired undelivered', async () => {
        const { devices } = await newUser(2);
        const [sender, target] = devices as [Device, Device];
        const { client: a } = await connect(sender);
        const queued = await a.request({ type: 'command.send', targetDeviceId: target.deviceId, command: { kind: 'task.start', text: 'x', ttlMs: 200 } });
        assert.equal(queued.type, 'command.queued');
        const expired = await a.waitFor((m) => m.type === 'command.result' && m.status === 'expired', 'expired result');
        assert.equal(expired.type === 'command.result' && expired.commandId, queued.type === 'command.queued' && queued.commandId);
        const { client: b } = await connect(target);
        await roundTrip(b);
        assert.equal(b.received.filter((m) => m.type === 'command.deliver').length, 0);
      });

      it('refuses a command for a task busy with another device command (COMMAND_TASK_BUSY)', async () => {
        const { devices } = await newUser(3);
        const [first, second, target] = devices as [Device, Device, Device];
        const { client: a } = await connect(first);
        const { client: b } = await connect(second);
        const ok = await a.request({ type: 'command.send', targetDeviceId: target.deviceId, command: { kind: 'task.message', taskId: 't1', text: 'go on' } });
        assert.equal(ok.type, 'command.queued');
        const busy = await b.request({ type: 'command.send', targetDeviceId: target.deviceId, command: { kind: 'task.cancel', taskId: 't1' } });
        assert.equal(codeOf(busy), 'COMMAND_TASK_BUSY');
        const other = await b.request({ type: 'command.send', targetDeviceId: target.deviceId, command: { kind: 'task.cancel', taskId: 't2' } });
        assert.equal(other.type, 'command.queued');
      });

      it('answers unknown target devices with COMMAND_TARGET_UNKNOWN', async () => {
        const { devices } = await newUser(1);
        const { client } = await connect(devices[0]!);
        const reply = await client.request({ type: 'command.send', targetDeviceId: 'no-such-device', command: { kind: 'task.start' } });
        assert.equal(codeOf(reply), 'COMMAND_TARGET_UNKNOWN');
      });
    });

    describe('presence', () => {
      it('tells the other devices when a device comes, changes state and goes', async () => {
        const { devices } = await newUser(2);
        const [one, two] = devices as [Device, Device];
        const { client: a } = await connect(one);
        const { client: b } = await connect(two);
        await a.waitFor((m) => m.type === 'presence' && m.deviceId === two.deviceId && m.state === 'online', 'online');
        b.send({ type: 'presence.update', state: 'busy', activeTaskId: 't1' });
        const busy = await a.waitFor((m) => m.type === 'presence' && m.state === 'busy', 'busy');
        assert.deepEqual(busy, { type: 'presence', deviceId: two.deviceId, state: 'busy', activeTaskId: 't1' });
        await b.close();
        await a.waitFor((m) => m.type === 'presence' && m.deviceId === two.deviceId && m.state === 'offline', 'offline');
        assert.equal(a.received.filter((m) => m.type === 'presence' && m.deviceId === one.deviceId).length, 0, 'no presence about itself');
      });
    });

    describe('revocation', () => {
      it('closes the sockets of a revoked device with Forbidden and refuses its token', async () => {
        const { devices } = await newUser(2);
        const { client } = await connect(devices[0]!);
        const { client: other } = await connect(devices[1]!);
        await relay.revokeDevice(devices[0]!.deviceId);
        assert.equal((await client.waitClosed()).code, CloseCode.Forbidden);
        const again = await open();
        again.send({ type: 'hello', protocolVersions: [1], codecs: ['none'], token: devices[0]!.token, deviceId: devices[0]!.deviceId, cursor: 0 });
        const closed = await again.waitClosed();
        assert.ok([CloseCode.Forbidden, CloseCode.Unauthorized].includes(closed.code as 4403 | 4401), `close ${closed.code}`);
        await roundTrip(other);
      });
    });
  });
}
