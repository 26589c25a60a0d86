/**
 * The login limit behind a real reverse proxy. The relay trusts only the proxy's own address
 * (TRUST_PROXY=127.0.0.2: the proxy connects to it from there); the proxy appends the address
 * of whoever connected to it to X-Forwarded-For, as nginx's $proxy_add_x_forwarded_for does
 * (Caddy replaces the header instead, the easier case). Clients connect from their own
 * loopback addresses. One address's failures, with any X-Forwarded-For it makes up, never
 * lock out another address or a correct password from elsewhere. Regression: the production
 * stack ran behind Caddy without TRUST_PROXY, so every client shared the proxy's address and
 * 20 failed logins locked everybody out.
 */
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createUser } from '../../../server/accounts/users';
import { loadRelayConfig } from '../../../server/config/load-config';
import type { Database } from '../../../server/db/database';
import { clientAddress, parseTrustedProxies, proxyTrust } from '../../../server/http/trusted-proxies';
import { startRelayServer, type RelayServer } from '../../../server/relay-server';
import { openTestPglite } from '../../support/pglite';

const PROXY_ADDRESS = '127.0.0.2';
const PER_ADDRESS = 4;
const PASSWORD = 'correct horse battery';

interface Reply {
  status: number;
  code?: string;
}

/** POST /v1/auth/login to `port` from `localAddress`, with an X-Forwarded-For of the client's own making. */
function login(port: number, localAddress: string, email: string, password: string, forwardedFor?: string): Promise<Reply> {
  const body = JSON.stringify({ email, password, device: { name: 'laptop', kind: 'cli' } });
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1', port, localAddress, method: 'POST', path: '/v1/auth/login', agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => { text += chunk; });
        res.on('end', () => resolve({ status: res.statusCode!, code: text ? (JSON.parse(text) as { error?: { code: string } }).error?.code : undefined }));
      },
    );
    req.once('error', reject);
    req.end(body);
  });
}

/** A reverse proxy on 127.0.0.1 that reaches the relay from PROXY_ADDRESS and appends the client's address to X-Forwarded-For. */
function startProxy(target: number): Promise<Server> {
  const proxy = createServer((req, res) => {
    const previous = req.headers['x-forwarded-for'];
    const forwarded = [previous, req.socket.remoteAddress].filter(Boolean).join(', ');
    const upstream = request(
      { host: '127.0.0.1', port: target, localAddress: PROXY_ADDRESS, method: req.method, path: req.url, agent: false, headers: { ...req.headers, 'x-forwarded-for': forwarded } },
      (answer) => {
        res.writeHead(answer.statusCode!, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.once('error', () => res.destroy());
    req.pipe(upstream);
  });
  return new Promise((resolve) => proxy.listen(0, '127.0.0.1', () => resolve(proxy)));
}

describe('TRUST_PROXY', () => {
  describe('parseTrustedProxies and clientAddress', () => {
    it('accepts addresses, networks and the loopback/private names, and refuses anything else', () => {
      assert.deepEqual(parseTrustedProxies('172.30.87.10, 10.0.0.0/8 fd00::/8,loopback'), { ok: true, value: ['172.30.87.10', '10.0.0.0/8', 'fd00::/8', 'loopback'] });
      for (const bad of ['maybe', '10.0.0.0/33', '300.1.1.1', '10.0.0.1/8/2', '']) assert.equal(parseTrustedProxies(bad).ok, false, bad);
    });

    it('reads X-Forwarded-For only from a trusted peer, from the right, skipping trusted hops', () => {
      const trusted = proxyTrust(['10.0.0.2', '192.168.0.0/16']);
      assert.equal(clientAddress('203.0.113.5', '198.51.100.1', trusted), '203.0.113.5', 'an untrusted peer names itself');
      assert.equal(clientAddress('10.0.0.2', 'spoofed, 198.51.100.1', trusted), '198.51.100.1', 'the hop the proxy added');
      assert.equal(clientAddress('::ffff:10.0.0.2', '198.51.100.7, 192.168.1.1', trusted), '198.51.100.7', 'a trusted inner proxy is skipped');
      assert.equal(clientAddress('10.0.0.2', undefined, trusted), '10.0.0.2');
      assert.equal(clientAddress('10.0.0.2', '198.51.100.1', proxyTrust(false)), '10.0.0.2');
    });

    it('is CONFIG_INVALID for a bad entry, and parses a list from the environment', () => {
      assert.deepEqual(loadRelayConfig({ env: { TRUST_PROXY: '172.30.87.10' } }).http.trustProxy, ['172.30.87.10']);
      assert.throws(() => loadRelayConfig({ env: { TRUST_PROXY: '172.30.87.0/40' } }), /TRUST_PROXY/);
    });
  });

  describe('through a reverse proxy', function () {
    this.timeout(60_000);
    let db: Database;
    let relay: RelayServer;
    let proxy: Server;
    let proxyPort: number;

    before(async () => {
      db = await openTestPglite();
      const config = loadRelayConfig({
        env: {
          PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', TRUST_PROXY: PROXY_ADDRESS,
          LOGIN_MAX_FAILURES_PER_ADDRESS: String(PER_ADDRESS), LOGIN_MAX_FAILURES_PER_ACCOUNT_ADDRESS: '3', LOGIN_MAX_FAILURES_PER_ACCOUNT: '50',
        },
      });
      relay = await startRelayServer(config, { db }, { compactionIntervalMs: 0 });
      await createUser(db, { email: 'ann@example.com', password: PASSWORD });
      await createUser(db, { email: 'bob@example.com', password: PASSWORD });
      proxy = await startProxy(relay.port);
      proxyPort = (proxy.address() as AddressInfo).port;
    });
    after(async () => {
      await new Promise<void>((resolve) => (proxy ? proxy.close(() => resolve()) : resolve()));
      await relay?.close();
      await db?.close();
    });

    it("counts one address's failures against that address, whatever X-Forwarded-For it sends, and locks out nobody else", async () => {
      // The attacker: made-up emails, a made-up X-Forwarded-For each time.
      for (let i = 0; i < PER_ADDRESS; i++) {
        const reply = await login(proxyPort, '127.0.0.3', `nobody-${i}@example.com`, 'wrong password', `198.51.100.${i + 1}`);
        assert.equal(reply.status, 401, `attempt ${i + 1}`);
      }
      const blocked = await login(proxyPort, '127.0.0.3', 'ann@example.com', PASSWORD, '198.51.100.99');
      assert.deepEqual(blocked, { status: 429, code: 'AUTH_RATE_LIMITED' }, 'the attacking address is limited, even with the right password');

      // Everyone else, through the same proxy.
      assert.equal((await login(proxyPort, '127.0.0.4', 'ann@example.com', PASSWORD)).status, 200, 'the owner signs in from elsewhere');
      assert.deepEqual(await login(proxyPort, '127.0.0.5', 'bob@example.com', 'typo password'), { status: 401, code: 'AUTH_INVALID_CREDENTIALS' });
      assert.equal((await login(proxyPort, '127.0.0.5', 'bob@example.com', PASSWORD)).status, 200);
    });

    it('records the address the proxy saw, and ignores X-Forwarded-For from a peer that is not the proxy', async () => {
      await login(proxyPort, '127.0.0.6', 'nobody@example.com', 'wrong password', '203.0.113.50');
      await login(relay.port, '127.0.0.7', 'nobody@example.com', 'wrong password', '127.0.0.6');
      const { rows } = await db.query<{ ip: string }>(
        "SELECT ip FROM audit_log WHERE action = 'auth.login' AND outcome <> 'success' AND ip IN ('127.0.0.6', '127.0.0.7', '203.0.113.50') ORDER BY id",
      );
      assert.deepEqual(rows.map((row) => row.ip), ['127.0.0.6', '127.0.0.7']);
    });
  });
});
