import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import { MAX_COPIED_PAYLOAD_BYTES, wsBinaryFrame, WsFrameWriter } from '../../../server/sync/ws-frame-writer';

/** A ws server in noServer mode (as the sync endpoint runs it) and one client connected to it. */
async function connectPair(): Promise<{ server: WebSocket; raw: Duplex; client: WebSocket; received: Buffer[]; http: Server; close(): Promise<void> }> {
  const http = createServer();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const accepted = new Promise<{ server: WebSocket; raw: Duplex }>((resolve) => {
    http.on('upgrade', (request, socket, head) => wss.handleUpgrade(request, socket, head, (server) => resolve({ server, raw: socket })));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const client = new WebSocket(`ws://127.0.0.1:${(http.address() as AddressInfo).port}`, { perMessageDeflate: false });
  const received: Buffer[] = [];
  client.on('message', (data: Buffer) => received.push(data));
  await new Promise((resolve, reject) => client.once('open', resolve).once('error', reject));
  const { server, raw } = await accepted;
  return {
    server,
    raw,
    client,
    received,
    http,
    async close() {
      client.terminate();
      server.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

describe('WsFrameWriter', () => {
  describe('#send', () => {
    it('delivers whole frames written to the upgraded socket in order with what ws itself sends (pongs, messages), at every header size', async () => {
      const pair = await connectPair();
      try {
        const writer = new WsFrameWriter(pair.server, pair.raw);
        const payloads = [0, 1, 125, 126, 1000, 65535, MAX_COPIED_PAYLOAD_BYTES, MAX_COPIED_PAYLOAD_BYTES + 1, 200_000].map((n, i) => Buffer.alloc(n, 97 + i));
        let pongs = 0;
        pair.client.on('pong', () => pongs++);
        const sent: Buffer[] = [];
        for (const [i, payload] of payloads.entries()) {
          writer.send(payload);
          sent.push(payload);
          pair.client.ping();
          const own = Buffer.from(`ws's own ${i}`);
          pair.server.send(own);
          sent.push(own);
        }
        // The 64-bit length form, which the writer leaves to ws (larger than it copies).
        const large = Buffer.alloc(70_000, 122);
        pair.raw.write(wsBinaryFrame(large));
        sent.push(large);
        await until(() => pair.received.length === sent.length && pongs === payloads.length);
        assert.deepEqual(pair.received, sent);
      } finally {
        await pair.close();
      }
    });

    it('writes a frame shared by many sockets once framed, and the same bytes to each', async () => {
      const pairs = [await connectPair(), await connectPair()];
      try {
        const framedOnce = new Map<Uint8Array, Buffer>();
        const payload = new Uint8Array(Buffer.from('one live page for everyone'));
        for (const pair of pairs) new WsFrameWriter(pair.server, pair.raw).send(payload, framedOnce);
        assert.equal(framedOnce.size, 1);
        assert.deepEqual(framedOnce.get(payload), wsBinaryFrame(payload));
        for (const pair of pairs) {
          await until(() => pair.received.length === 1);
          assert.deepEqual(pair.received[0], Buffer.from(payload));
        }
      } finally {
        for (const pair of pairs) await pair.close();
      }
    });

    it('counts what it wrote in bufferedAmount while the peer does not read (the slow-consumer rule sees it)', async () => {
      const pair = await connectPair();
      try {
        const writer = new WsFrameWriter(pair.server, pair.raw);
        pair.client.pause();
        const chunk = Buffer.alloc(60_000, 1);
        for (let i = 0; i < 200 && pair.server.bufferedAmount === 0; i++) writer.send(chunk);
        assert.ok(pair.server.bufferedAmount > 0);
      } finally {
        await pair.close();
      }
    });

    it('sends through ws when it has no raw socket, and nothing once the socket is closing', async () => {
      const pair = await connectPair();
      try {
        new WsFrameWriter(pair.server).send(Buffer.from('via ws'));
        await until(() => pair.received.length === 1);
        assert.equal(pair.received[0]!.toString(), 'via ws');
        const closed = new Promise<number>((resolve) => pair.client.once('close', resolve));
        pair.server.close(1000);
        new WsFrameWriter(pair.server, pair.raw).send(Buffer.from('after close'));
        assert.equal(await closed, 1000);
        assert.equal(pair.received.length, 1);
      } finally {
        await pair.close();
      }
    });
  });
});
