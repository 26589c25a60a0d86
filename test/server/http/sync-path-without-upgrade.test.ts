/** GET /v1/sync without a WebSocket upgrade: a coded 426, and the endpoint still upgrades (PGlite relay). */
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { api, usePgliteRelay } from './relay-fixture';

describe('GET /v1/sync without an upgrade', () => {
  const { relay } = usePgliteRelay();

  it('answers 426 UPGRADE_REQUIRED with an upgrade: websocket header', async () => {
    const res = await api(relay(), 'GET', '/v1/sync');
    assert.equal(res.status, 426);
    assert.equal(res.body.error.code, 'UPGRADE_REQUIRED');
    assert.equal(res.headers.get('upgrade'), 'websocket');
  });

  it('still accepts a WebSocket upgrade on the same path', async () => {
    const socket = new WebSocket(`${relay().url.replace(/^http/, 'ws')}/v1/sync`);
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('open', () => resolve());
        socket.once('error', reject);
      });
    } finally {
      socket.terminate();
    }
  });
});
