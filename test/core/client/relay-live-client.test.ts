import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { RelayLiveClient, type WebSocketLike } from '../../../core/client/relay-live-client';
import type { ServerChange } from '../../../core/model/changes';
import type { CommandResultMessage, PresenceMessage, WelcomeMessage } from '../../../core/protocol/messages';
import { createUser } from '../../../server/accounts/users';
import { api, PASSWORD, usePgliteRelay } from '../../server/http/relay-fixture';
import { HeadlessDevice } from '../../support/headless-device';

/** Resolves with the first value `subscribe` hands its listener that `accept` takes. */
function next<T>(subscribe: (listener: (value: T) => void) => () => void, accept: (value: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    const remove = subscribe((value) => {
      if (!accept(value)) return;
      remove();
      resolve(value);
    });
  });
}

describe('RelayLiveClient', function () {
  this.timeout(30_000);
  const suite = usePgliteRelay();
  const closers: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  async function setUp(email: string) {
    await createUser(suite.db(), { email, password: PASSWORD });
    const url = suite.relay().url;
    const device = await HeadlessDevice.signIn({ relayUrl: url, email, password: PASSWORD, name: 'laptop' });
    closers.push(() => device.close());
    const login = await api<{ deviceId: string; accessToken: string }>({ url }, 'POST', '/v1/auth/login', {
      body: { email, password: PASSWORD, device: { name: 'phone', kind: 'web' } },
    });
    assert.equal(login.status, 200);
    const live = new RelayLiveClient({
      url: `${url.replace(/^http/, 'ws')}/v1/sync`,
      deviceId: login.body.deviceId,
      getToken: async () => login.body.accessToken,
      createSocket: (u) => new WebSocket(u) as unknown as WebSocketLike,
      pingIntervalMs: 0,
    });
    closers.push(() => live.close());
    return { device, live };
  }

  it('negotiates deflate and hears live changes, presence and command results', async () => {
    const { device, live } = await setUp('live@example.com');
    const presence = next<PresenceMessage>((l) => live.onPresence(l), (p) => p.deviceId === device.deviceId);
    const welcome = next<WelcomeMessage>((l) => live.onConnected(l));
    live.start();
    assert.equal((await welcome).codec, 'deflate');
    assert.equal((await presence).state, 'online');

    const changes = next<ServerChange[]>((l) => live.onLiveChanges(l));
    await device.pushTask({ taskId: 't1', meta: { id: 't1', task: 'hello', ts: 1 }, messages: [{ ts: 5, type: 'say', say: 'text', text: 'x'.repeat(3000) }] });
    const bodies = (await changes).map((c) => c.body.type);
    assert.deepEqual(bodies, ['task.meta', 'stream.put']);

    device.answerCommands((d) => ({ echoed: d.command.text }));
    const done = next<CommandResultMessage>((l) => live.onCommandResult(l), (r) => r.status === 'done');
    const queued = await live.sendCommand(device.deviceId, { kind: 'task.message', taskId: 't1' as never, text: 'go on' });
    const result = await done;
    assert.equal(result.commandId, queued.commandId);
    assert.deepEqual(result.result, { echoed: 'go on' });
  });

  it('rejects a command to an unknown device with the relay code', async () => {
    const { live } = await setUp('unknown@example.com');
    const welcome = next<WelcomeMessage>((l) => live.onConnected(l));
    live.start();
    await welcome;
    await assert.rejects(live.sendCommand('00000000-0000-4000-8000-000000000000', { kind: 'task.cancel', taskId: 't' as never }), (e: { code: string }) => e.code.startsWith('COMMAND_'));
  });

  it('close() is idempotent and fails later calls with CLIENT_CLOSED', async () => {
    const { live } = await setUp('close@example.com');
    live.start();
    live.close();
    live.close();
    assert.equal(live.status.stopped, true);
    await assert.rejects(live.sendCommand('x', { kind: 'task.cancel', taskId: 't' as never }), { code: 'CLIENT_CLOSED' });
  });
});
