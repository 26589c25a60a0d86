import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { RelayAuthClient } from '../../../core/client/relay-auth-client';
import { normaliseServerUrl, RelayHttp, syncUrlOf } from '../../../core/client/relay-http';

describe('RelayHttp', () => {
  it('normalises server URLs and refuses what is not http(s)', () => {
    assert.equal(normaliseServerUrl(' https://sync.example.com/ '), 'https://sync.example.com');
    assert.equal(normaliseServerUrl('http://127.0.0.1:8787/relay/?x=1'), 'http://127.0.0.1:8787/relay');
    assert.equal(syncUrlOf('https://sync.example.com'), 'wss://sync.example.com/v1/sync');
    assert.throws(() => normaliseServerUrl('ftp://x'), { code: 'RELAY_URL_INVALID' });
    assert.throws(() => normaliseServerUrl('not a url'), { code: 'RELAY_URL_INVALID' });
  });

  it('says RELAY_UNREACHABLE when nothing listens at the address', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer();
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    await assert.rejects(new RelayAuthClient(`http://127.0.0.1:${port}`).health(), { code: 'RELAY_UNREACHABLE' });
  });

  it('passes the relay\'s own error code on, with the status and Retry-After', async () => {
    const http = new RelayHttp('http://relay.test', {
      fetch: async () => new Response(JSON.stringify({ error: { code: 'AUTH_RATE_LIMITED', message: 'slow down' } }), { status: 429, headers: { 'retry-after': '30' } }),
    });
    await assert.rejects(http.json('POST', '/v1/auth/login', { body: {} }), (err: { code: string; details: Record<string, unknown> }) => {
      assert.equal(err.code, 'AUTH_RATE_LIMITED');
      assert.equal(err.details.status, 429);
      assert.equal(err.details.retryAfterSeconds, 30);
      return true;
    });
  });

  it('says RELAY_RESPONSE_INVALID for an answer that is not the relay\'s (a proxy\'s HTML page)', async () => {
    const http = new RelayHttp('http://relay.test', { fetch: async () => new Response('<html>Bad gateway</html>', { status: 502 }) });
    await assert.rejects(http.json('GET', '/healthz'), { code: 'RELAY_RESPONSE_INVALID' });
    const ok = new RelayHttp('http://relay.test', { fetch: async () => new Response('<html>', { status: 200 }) });
    await assert.rejects(ok.json('GET', '/healthz'), { code: 'RELAY_RESPONSE_INVALID' });
  });
});
