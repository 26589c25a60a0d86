/**
 * The password-check rate limit through the relay's HTTP API, run against PGlite
 * (login-limits.pglite.test.ts) and real PostgreSQL + Redis (login-limits.postgres.test.ts):
 * per (account, address), per account across addresses, per address across accounts, the
 * lockout audit rows, and DELETE /v1/account counted in the same limit. The limits come from
 * the relay configuration (LOGIN_MAX_FAILURES_*); client addresses from X-Forwarded-For (the
 * relay trusts a proxy here).
 */
import assert from 'node:assert/strict';
import type { Database } from '../../../server/db/database';
import { api, errorCode, PASSWORD, signIn, useSuiteRelay, type ApiResponse } from './relay-fixture';
import type { RelaySuiteSetup } from './relay-http.suite';

const PER_ACCOUNT_ADDRESS = 3;
const PER_ACCOUNT = 6;
const PER_ADDRESS = 5;
const WINDOW_SECONDS = 600;

export function loginLimitsSuite(setup: RelaySuiteSetup): void {
  const relay = useSuiteRelay(
    setup,
    {
      loginMaxFailuresPerAccountAddress: PER_ACCOUNT_ADDRESS,
      loginMaxFailuresPerAccount: PER_ACCOUNT,
      loginMaxFailuresPerAddress: PER_ADDRESS,
      loginWindowSeconds: WINDOW_SECONDS,
    },
    { trustProxy: true },
  );

  function login(email: string, password: string, ip: string): Promise<ApiResponse> {
    return api(relay(), 'POST', '/v1/auth/login', {
      body: { email, password, device: { name: 'laptop', kind: 'vscode' } },
      headers: { 'x-forwarded-for': ip },
    });
  }

  /** Asserts a 429; Retry-After is when the bucket frees up: at most the window, and the failures here were all just made. */
  function assertLimited(res: ApiResponse): void {
    assert.equal(res.status, 429, JSON.stringify(res.body));
    assert.equal(errorCode(res), 'AUTH_RATE_LIMITED');
    const retryAfter = Number(res.headers.get('retry-after'));
    assert.ok(retryAfter <= WINDOW_SECONDS && retryAfter >= WINDOW_SECONDS - 60, `Retry-After ${retryAfter}`);
  }

  async function lockouts(db: Database): Promise<Array<{ scope: string; ip: string | null }>> {
    const { rows } = await db.query<{ scope: string; ip: string | null }>(
      "SELECT metadata->>'scope' AS scope, ip FROM audit_log WHERE action = 'auth.lockout' AND outcome = 'denied' ORDER BY id",
    );
    return rows;
  }

  describe('Retry-After', () => {
    it('is when the oldest failure that keeps the bucket full leaves the window, not the whole window', async () => {
      await signIn(relay(), 'ann@example.com');
      for (let i = 0; i < PER_ACCOUNT_ADDRESS; i++) assert.equal((await login('ann@example.com', `guess-${i}`, '203.0.113.1')).status, 401);
      // The first failure was made 500 s ago, the others just now: once it leaves the
      // 600 s window (in ~100 s) the bucket is below its limit again.
      await setup.db().query(
        `UPDATE audit_log SET created_at = created_at - interval '500 seconds'
          WHERE id = (SELECT min(id) FROM audit_log WHERE action = 'auth.login' AND outcome = 'denied')`,
      );
      const res = await login('ann@example.com', PASSWORD, '203.0.113.1');
      assert.equal(res.status, 429);
      const retryAfter = Number(res.headers.get('retry-after'));
      assert.ok(retryAfter > 90 && retryAfter <= 100, `Retry-After ${retryAfter}, expected about 100`);
    });
  });

  describe('per account and address', () => {
    it('locks one address out of one account while the right password from another address still signs in', async () => {
      await signIn(relay(), 'ann@example.com');
      for (let i = 0; i < PER_ACCOUNT_ADDRESS; i++) assert.equal((await login('ann@example.com', `guess-${i}`, '203.0.113.1')).status, 401);
      assertLimited(await login('ann@example.com', PASSWORD, '203.0.113.1'));

      const real = await login('ann@example.com', PASSWORD, '198.51.100.7');
      assert.equal(real.status, 200, 'the owner signs in from another address');
      // Her success elsewhere does not hand the attacker's address new guesses.
      assertLimited(await login('ann@example.com', 'guess-again', '203.0.113.1'));
      // The attacker's address may still sign in to another account.
      await signIn(relay(), 'bob@example.com');
      assert.equal((await login('bob@example.com', PASSWORD, '203.0.113.1')).status, 200);

      assert.deepEqual(await lockouts(setup.db()), [{ scope: 'account-address', ip: '203.0.113.1' }]);
    });
  });

  describe('per account across addresses', () => {
    it('locks the account after the higher account-wide count from many addresses, and audits the lockout', async () => {
      await signIn(relay(), 'ann@example.com');
      for (let i = 0; i < PER_ACCOUNT; i++) assert.equal((await login('ann@example.com', 'wrong-password', `203.0.113.${10 + i}`)).status, 401);
      assertLimited(await login('ann@example.com', PASSWORD, '198.51.100.7'));
      const { rows } = await setup.db().query<{ scope: string; user_id: string | null }>(
        "SELECT metadata->>'scope' AS scope, user_id FROM audit_log WHERE action = 'auth.lockout'",
      );
      assert.deepEqual(rows.map((r) => r.scope), ['account']);
      assert.ok(rows[0]!.user_id, 'the lockout row names the account');
    });
  });

  describe('per address across accounts', () => {
    it('locks an address that fails on many accounts (credential stuffing), and no other address', async () => {
      await signIn(relay(), 'fresh@example.com');
      for (let i = 0; i < PER_ADDRESS; i++) assert.equal((await login(`user${i}@example.com`, 'wrong-password', '203.0.113.99')).status, 401);
      assertLimited(await login('fresh@example.com', PASSWORD, '203.0.113.99'));
      assert.equal((await login('fresh@example.com', PASSWORD, '198.51.100.7')).status, 200);
      assert.deepEqual(await lockouts(setup.db()), [{ scope: 'address', ip: '203.0.113.99' }]);
    });
  });

  describe('DELETE /v1/account', () => {
    it('counts wrong passwords in the sign-in limit: 429 AUTH_RATE_LIMITED with Retry-After, even for the right one', async () => {
      const ann = await signIn(relay(), 'ann@example.com');
      const remove = (password: string) =>
        api(relay(), 'DELETE', '/v1/account', { token: ann.accessToken, body: { password }, headers: { 'x-forwarded-for': '203.0.113.1' } });
      for (let i = 0; i < PER_ACCOUNT_ADDRESS; i++) {
        const res = await remove(`guess-${i}`);
        assert.equal(errorCode(res), 'AUTH_INVALID_CREDENTIALS');
      }
      assertLimited(await remove(PASSWORD));
      assert.equal((await api(relay(), 'GET', '/v1/devices', { token: ann.accessToken })).status, 200, 'the account is still there');
      // The same count refuses a sign-in of that account from that address.
      assertLimited(await login('ann@example.com', PASSWORD, '203.0.113.1'));
      assert.deepEqual(await lockouts(setup.db()), [{ scope: 'account-address', ip: '203.0.113.1' }]);
      const refused = await setup.db().query("SELECT 1 FROM audit_log WHERE action = 'account.delete.rate_limited'");
      assert.equal(refused.rowCount, 1);
    });

    it('shares the count with failed sign-ins', async () => {
      const ann = await signIn(relay(), 'ann@example.com');
      for (let i = 0; i < PER_ACCOUNT_ADDRESS - 1; i++) assert.equal((await login('ann@example.com', `guess-${i}`, '203.0.113.1')).status, 401);
      const remove = (password: string) =>
        api(relay(), 'DELETE', '/v1/account', { token: ann.accessToken, body: { password }, headers: { 'x-forwarded-for': '203.0.113.1' } });
      assert.equal(errorCode(await remove('one more guess')), 'AUTH_INVALID_CREDENTIALS');
      assertLimited(await remove(PASSWORD));
    });
  });
}
