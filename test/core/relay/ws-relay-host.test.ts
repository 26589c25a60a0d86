import assert from 'node:assert/strict';
import { WsRelayHost } from '../../../core/node/relay/ws-relay-host';
import { CloseCode } from '../../../core/protocol/close-codes';
import { ReferenceRelay } from '../../../core/relay/reference-relay';
import { RawWsClient } from '../../conformance/raw-ws-client';
import { change, putBody } from './memory-peer';

describe('WsRelayHost', () => {
  let relay: ReferenceRelay;
  let host: WsRelayHost;
  const clients: RawWsClient[] = [];

  beforeEach(async () => {
    relay = new ReferenceRelay();
    host = await WsRelayHost.start({ relay, maxFrameBytes: 4096 });
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await host.close();
    relay.close();
  });

  async function connect(device: { deviceId: string; token: string }, codecs: string[]): Promise<RawWsClient> {
    const client = await RawWsClient.open(host.url);
    clients.push(client);
    client.send({ type: 'hello', protocolVersions: [1], codecs, token: device.token, deviceId: device.deviceId, cursor: 0 });
    const welcome = await client.waitFor((m) => m.type === 'welcome', 'welcome');
    if (welcome.type === 'welcome') client.useCodec(welcome.codec);
    return client;
  }

  describe('frames over the limit', () => {
    it('replaces a live page too large for a frame with a pull hint, and a reply with RELAY_REPLY_TOO_LARGE', async () => {
      const user = relay.addUser();
      const a = await connect(relay.addDevice(user), ['deflate']);
      const b = await connect(relay.addDevice(user), ['none']);
      const big = { ...putBody('t', '1:0'), entry: { ts: 1, text: 'x'.repeat(10_000) } };
      const ack = await a.request({ type: 'push', changes: [change(1, big)] });
      assert.equal(ack.type, 'ack');
      const hint = await b.waitFor((m) => m.type === 'changes' && m.replyTo === undefined, 'live hint');
      assert.deepEqual(hint, { type: 'changes', changes: [], cursor: 0, hasMore: true });
      const reply = await b.request({ type: 'pull', cursor: 0, limit: 10 });
      assert.equal(reply.type === 'error' && reply.code, 'RELAY_REPLY_TOO_LARGE');
    });
  });

  describe('#close', () => {
    it('closes open sockets with GoingAway and is idempotent', async () => {
      const user = relay.addUser();
      const device = relay.addDevice(user);
      const client = await connect(device, ['none']);
      assert.equal(relay.connectionCount(device.deviceId), 1);
      await Promise.all([host.close(), host.close()]);
      await host.close();
      assert.equal((await client.waitClosed()).code, CloseCode.GoingAway);
      assert.equal(relay.connectionCount(device.deviceId), 0);
    });
  });
});
