/**
 * The composition root end to end: a device signs in over HTTP, opens the sync WebSocket on
 * the same port with its access token, and is cut off within 1 s when revoked over HTTP; a
 * graceful close ends open sockets with 1001.
 */
import assert from 'node:assert/strict';
import { resetDatabase } from '../../support/pglite';
import { connectDevice } from '../../support/sync-client';
import { api, signIn, startTestRelay, usePgliteRelay } from './relay-fixture';

describe('startRelayServer (HTTP and WebSocket on one port)', () => {
  const { db, relay } = usePgliteRelay();
  beforeEach(async () => {
    await resetDatabase(db());
  });

  const syncUrl = (): string => `${relay().url.replace(/^http/, 'ws')}/v1/sync`;

  it('accepts a signed-in device on /v1/sync and closes its socket within 1 s of an HTTP revocation', async () => {
    const laptop = await signIn(relay(), 'ann@example.com', 'laptop');
    const phone = await signIn(relay(), 'ann@example.com', 'phone');
    const { client, welcome } = await connectDevice(syncUrl(), { deviceId: laptop.deviceId, token: laptop.accessToken });
    assert.equal(welcome.type, 'welcome');
    const started = Date.now();
    assert.equal((await api(relay(), 'DELETE', `/v1/devices/${laptop.deviceId}`, { token: phone.accessToken })).status, 204);
    const closed = await client.waitClosed(1000);
    assert.equal(closed.code, 4403);
    assert.ok(Date.now() - started < 1000);
  });

  it('refuses a hello with a revoked token', async () => {
    const laptop = await signIn(relay(), 'ann@example.com', 'laptop');
    await api(relay(), 'POST', '/v1/auth/logout', { token: laptop.accessToken });
    await assert.rejects(connectDevice(syncUrl(), { deviceId: laptop.deviceId, token: laptop.accessToken }));
  });

  it('ends open sockets with 1001 on close()', async () => {
    const other = await startTestRelay(db(), {}, { migrate: false });
    const laptop = await signIn(other, 'bob@example.com', 'laptop');
    const { client } = await connectDevice(`${other.url.replace(/^http/, 'ws')}/v1/sync`, { deviceId: laptop.deviceId, token: laptop.accessToken });
    await other.close();
    assert.equal((await client.waitClosed(2000)).code, 1001);
  });
});
