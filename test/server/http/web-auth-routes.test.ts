/**
 * The web page's cookie sign-in (server/http/web-auth-routes.ts) on a real relay over PGlite:
 * the cookie's attributes, refresh with rotation, the same-origin guard, logout revoking the
 * `web` device, and Secure behind a trusted TLS proxy.
 */
import assert from 'node:assert/strict';
import { createUser } from '../../../server/accounts/users';
import { browserName, readCookie, WEB_REFRESH_COOKIE } from '../../../server/http/web-auth-routes';
import { api, errorCode, PASSWORD, startTestRelay, usePgliteRelay } from './relay-fixture';
import type { RelayServer } from '../../../server/relay-server';

function cookieOf(headers: Headers): string | undefined {
  return headers.getSetCookie().find((c) => c.startsWith(`${WEB_REFRESH_COOKIE}=`));
}

function tokenIn(setCookie: string | undefined): string | undefined {
  return setCookie ? readCookie(setCookie.split(';')[0], WEB_REFRESH_COOKIE) : undefined;
}

describe('web sign-in routes', function () {
  this.timeout(30_000);
  const suite = usePgliteRelay();
  let n = 0;
  let email = '';
  beforeEach(async () => {
    email = `web${++n}@example.com`;
    await createUser(suite.db(), { email, password: PASSWORD });
  });
  const origin = () => suite.relay().url;
  const login = (headers: Record<string, string> = { origin: origin() }) =>
    api(suite.relay(), 'POST', '/v1/auth/web/login', { body: { email, password: PASSWORD }, headers: { 'user-agent': 'Mozilla/5.0 (Linux; Android 14) Chrome/130.0', ...headers } });

  it('signs in as a web device: access token in the body, refresh token only in an HttpOnly SameSite=Strict cookie on the auth path', async () => {
    const res = await login();
    assert.equal(res.status, 200);
    assert.equal(typeof res.body.accessToken, 'string');
    assert.equal(res.body.refreshToken, undefined);
    const cookie = cookieOf(res.headers)!;
    assert.match(cookie, /; Path=\/v1\/auth\/web; Max-Age=\d+; HttpOnly; SameSite=Strict$/);
    assert.ok(!/Secure/.test(cookie), 'plain http: no Secure attribute');
    const devices = await api(suite.relay(), 'GET', '/v1/devices', { token: res.body.accessToken });
    const me = devices.body.devices.find((d: { current: boolean }) => d.current);
    assert.equal(me.kind, 'web');
    assert.equal(me.name, 'Chrome on Android');
  });

  it('refreshes from the cookie, rotating it; the old cookie then revokes the session (reuse)', async () => {
    const first = tokenIn(cookieOf((await login()).headers))!;
    const refreshed = await api(suite.relay(), 'POST', '/v1/auth/web/refresh', { headers: { origin: origin(), cookie: `${WEB_REFRESH_COOKIE}=${first}` } });
    assert.equal(refreshed.status, 200);
    const second = tokenIn(cookieOf(refreshed.headers))!;
    assert.notEqual(second, first);
    assert.equal((await api(suite.relay(), 'GET', '/v1/tasks', { token: refreshed.body.accessToken })).status, 200);
    const reused = await api(suite.relay(), 'POST', '/v1/auth/web/refresh', { headers: { origin: origin(), cookie: `${WEB_REFRESH_COOKIE}=${first}` } });
    assert.equal(errorCode(reused), 'AUTH_REFRESH_REUSED');
    assert.match(cookieOf(reused.headers)!, /^roo_sync_web_refresh=; .*Max-Age=0/, 'a refused cookie is cleared');
  });

  it('answers AUTH_REQUIRED to a refresh without the cookie', async () => {
    const res = await api(suite.relay(), 'POST', '/v1/auth/web/refresh', { headers: { origin: origin() } });
    assert.equal(res.status, 401);
    assert.equal(errorCode(res), 'AUTH_REQUIRED');
  });

  it('refuses a missing or foreign Origin and a cross-site fetch with 403 ORIGIN_REFUSED (CSRF)', async () => {
    for (const headers of [{}, { origin: 'https://evil.example' }, { origin: 'null' }, { origin: origin().replace('http:', 'https:') }, { origin: origin(), 'sec-fetch-site': 'cross-site' }]) {
      const res = await login(headers as Record<string, string>);
      assert.equal(res.status, 403, JSON.stringify(headers));
      assert.equal(errorCode(res), 'ORIGIN_REFUSED');
    }
    const token = tokenIn(cookieOf((await login()).headers))!;
    const res = await api(suite.relay(), 'POST', '/v1/auth/web/refresh', { headers: { origin: 'https://evil.example', cookie: `${WEB_REFRESH_COOKIE}=${token}` } });
    assert.equal(errorCode(res), 'ORIGIN_REFUSED');
  });

  it('logout revokes the web device, clears the cookie, and the cookie no longer refreshes', async () => {
    const res = await login();
    const token = tokenIn(cookieOf(res.headers))!;
    const out = await api(suite.relay(), 'POST', '/v1/auth/web/logout', { token: res.body.accessToken, headers: { origin: origin(), cookie: `${WEB_REFRESH_COOKIE}=${token}` } });
    assert.equal(out.status, 204);
    assert.match(cookieOf(out.headers)!, /Max-Age=0/);
    assert.equal((await api(suite.relay(), 'GET', '/v1/tasks', { token: res.body.accessToken })).status, 401);
    const again = await api(suite.relay(), 'POST', '/v1/auth/web/refresh', { headers: { origin: origin(), cookie: `${WEB_REFRESH_COOKIE}=${token}` } });
    assert.equal(again.status, 401);
  });

  it('logout with only the cookie (the page lost its access token) revokes the device too', async () => {
    const res = await login();
    const token = tokenIn(cookieOf(res.headers))!;
    const out = await api(suite.relay(), 'POST', '/v1/auth/web/logout', { headers: { origin: origin(), cookie: `${WEB_REFRESH_COOKIE}=${token}` } });
    assert.equal(out.status, 204);
    assert.equal((await api(suite.relay(), 'GET', '/v1/tasks', { token: res.body.accessToken })).status, 401);
  });

  describe('behind a trusted TLS proxy', () => {
    let relay: RelayServer;
    before(async () => {
      relay = await startTestRelay(suite.db(), {}, { trustProxy: true, webRoot: false });
    });
    after(() => relay.close());

    it('marks the cookie Secure and checks Origin against X-Forwarded-Proto/-Host', async () => {
      const headers = { origin: 'https://sync.example.org', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'sync.example.org' };
      const res = await api(relay, 'POST', '/v1/auth/web/login', { body: { email, password: PASSWORD }, headers });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.match(cookieOf(res.headers)!, /; Secure$/);
      const plain = await api(relay, 'POST', '/v1/auth/web/login', { body: { email, password: PASSWORD }, headers: { ...headers, origin: 'http://sync.example.org' } });
      assert.equal(errorCode(plain), 'ORIGIN_REFUSED');
    });
  });

  describe('browserName', () => {
    it('names common browsers and systems', () => {
      assert.equal(browserName('Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 Safari/604.1'), 'Safari on iOS');
      assert.equal(browserName('Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Gecko/20100101 Firefox/120.0'), 'Firefox on Windows');
      assert.equal(browserName(undefined), 'Browser');
    });
  });
});
