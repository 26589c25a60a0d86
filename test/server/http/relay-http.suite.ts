/**
 * The relay's HTTP API, run against PGlite (relay-http.pglite.test.ts) and against real
 * PostgreSQL + Redis (relay-http.postgres.test.ts): sign-in, refresh rotation and reuse,
 * logout, devices, cross-user ids, rate limit, sign-up, account deletion, operations
 * endpoints and bad input.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Database } from '../../../server/db/database';
import { remainingUserRows, userRowKeys, userTables } from '../../support/user-rows';
import { api, errorCode, PASSWORD, signIn, useSuiteRelay } from './relay-fixture';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface RelaySuiteSetup {
  /** The suite's database (migrated by the first relay start). */
  db(): Database;
  /** Extra relay flags (Redis URL and prefix for the PostgreSQL run). */
  flags(): Record<string, unknown>;
}

export function relayHttpSuite(setup: RelaySuiteSetup): void {
  const relay = useSuiteRelay(setup, {}, { allowSignup: true, loginRateLimit: { perAccountAddress: 3, perAccount: 10, perAddress: 6, windowSeconds: 600 } });

  describe('POST /v1/auth/login', () => {
    it('returns a device id, an access token and a refresh token, and stores only their hashes', async () => {
      const session = await signIn(relay(), 'ann@example.com');
      assert.match(session.deviceId, /^[0-9a-f-]{36}$/);
      assert.match(session.accessToken, /^rsa_/);
      assert.match(session.refreshToken, /^rsr_/);
      const { rows } = await setup.db().query<{ refresh_token_hash: string; metadata: unknown }>('SELECT refresh_token_hash, metadata FROM sessions');
      const stored = JSON.stringify(rows);
      assert.ok(!stored.includes(session.accessToken) && !stored.includes(session.refreshToken));
      assert.equal(rows[0]?.refresh_token_hash, createHash('sha256').update(session.refreshToken).digest('hex'));
      const audit = await setup.db().query<{ action: string; outcome: string }>('SELECT action, outcome FROM audit_log');
      assert.deepEqual(audit.rows, [{ action: 'auth.login', outcome: 'ok' }]);
    });

    it('answers a wrong password and an unknown email alike with 401 AUTH_INVALID_CREDENTIALS', async () => {
      await signIn(relay(), 'ann@example.com');
      const wrong = await api(relay(), 'POST', '/v1/auth/login', { body: { email: 'ann@example.com', password: 'not the password' } });
      const unknown = await api(relay(), 'POST', '/v1/auth/login', { body: { email: 'nobody@example.com', password: PASSWORD } });
      assert.equal(wrong.status, 401);
      assert.equal(errorCode(wrong), 'AUTH_INVALID_CREDENTIALS');
      assert.deepEqual(unknown.body, wrong.body);
    });

    it('rate-limits failed sign-ins per account and address with 429 AUTH_RATE_LIMITED, even with the right password', async () => {
      await signIn(relay(), 'ann@example.com');
      for (let i = 0; i < 3; i++) {
        const res = await api(relay(), 'POST', '/v1/auth/login', { body: { email: 'ann@example.com', password: `guess-${i}-xx` } });
        assert.equal(res.status, 401);
      }
      const limited = await api(relay(), 'POST', '/v1/auth/login', { body: { email: 'ANN@example.com', password: PASSWORD } });
      assert.equal(limited.status, 429);
      assert.equal(errorCode(limited), 'AUTH_RATE_LIMITED');
      assert.ok(Number(limited.headers.get('retry-after')) > 0);
      // Another account from the same address is still served.
      await signIn(relay(), 'bob@example.com');
    });

    it("restarts an account's count at its successful sign-in", async () => {
      await signIn(relay(), 'ann@example.com');
      const fail = () => api(relay(), 'POST', '/v1/auth/login', { body: { email: 'ann@example.com', password: 'wrong-password' } });
      assert.equal((await fail()).status, 401);
      assert.equal((await fail()).status, 401);
      await signIn(relay(), 'ann@example.com', 'laptop', false);
      assert.equal((await fail()).status, 401);
      assert.equal((await fail()).status, 401);
      await signIn(relay(), 'ann@example.com', 'laptop', false);
    });

    it('does not take the client address from X-Forwarded-For unless told to trust a proxy', async () => {
      await signIn(relay(), 'ann@example.com');
      await api(relay(), 'POST', '/v1/auth/login', { body: { email: 'ann@example.com', password: 'wrong-password' }, headers: { 'x-forwarded-for': '203.0.113.9' } });
      const { rows } = await setup.db().query<{ ip: string }>("SELECT ip FROM audit_log WHERE outcome = 'denied'");
      assert.equal(rows.length, 1);
      assert.match(rows[0]!.ip, /127\.0\.0\.1$/);
    });

    it('rate-limits failed sign-ins per address across accounts', async () => {
      for (let i = 0; i < 6; i++) {
        await api(relay(), 'POST', '/v1/auth/login', { body: { email: `user${i}@example.com`, password: 'wrong-password' } });
      }
      const limited = await api(relay(), 'POST', '/v1/auth/login', { body: { email: 'fresh@example.com', password: 'wrong-password' } });
      assert.equal(errorCode(limited), 'AUTH_RATE_LIMITED');
    });
  });

  describe('POST /v1/auth/refresh', () => {
    it('rotates: the new pair works, the old refresh token and old access token are refused', async () => {
      const first = await signIn(relay(), 'ann@example.com');
      assert.equal((await api(relay(), 'GET', '/v1/devices', { token: first.accessToken })).status, 200);
      const rotated = await api(relay(), 'POST', '/v1/auth/refresh', { body: { refreshToken: first.refreshToken } });
      assert.equal(rotated.status, 200);
      assert.equal(rotated.body.deviceId, first.deviceId);
      assert.notEqual(rotated.body.refreshToken, first.refreshToken);
      assert.equal((await api(relay(), 'GET', '/v1/devices', { token: rotated.body.accessToken })).status, 200);
      const oldAccess = await api(relay(), 'GET', '/v1/devices', { token: first.accessToken });
      assert.equal(errorCode(oldAccess), 'AUTH_TOKEN_INVALID');
    });

    it('treats reuse of a rotated refresh token as theft: 401 AUTH_REFRESH_REUSED and the whole session is revoked', async () => {
      const first = await signIn(relay(), 'ann@example.com');
      const other = await signIn(relay(), 'ann@example.com', 'desktop');
      const revoked: string[] = [];
      const stop = relay().sessions.onDeviceRevoked((id) => revoked.push(id));
      const second = await api(relay(), 'POST', '/v1/auth/refresh', { body: { refreshToken: first.refreshToken } });
      // The pair it was traded for is used: the reuse grace no longer applies.
      assert.equal((await api(relay(), 'GET', '/v1/devices', { token: second.body.accessToken })).status, 200);
      const reuse = await api(relay(), 'POST', '/v1/auth/refresh', { body: { refreshToken: first.refreshToken } });
      stop();
      assert.equal(reuse.status, 401);
      assert.equal(errorCode(reuse), 'AUTH_REFRESH_REUSED');
      assert.deepEqual(revoked, [first.deviceId]);
      assert.equal(errorCode(await api(relay(), 'GET', '/v1/devices', { token: second.body.accessToken })), 'AUTH_TOKEN_INVALID');
      assert.equal(errorCode(await api(relay(), 'POST', '/v1/auth/refresh', { body: { refreshToken: second.body.refreshToken } })), 'AUTH_TOKEN_INVALID');
      const audit = await setup.db().query("SELECT 1 FROM audit_log WHERE action = 'auth.refresh.reuse'");
      assert.equal(audit.rowCount, 1);
      // Regression: the device stayed listed active although it could never be used again.
      const list = await api(relay(), 'GET', '/v1/devices', { token: other.accessToken });
      const states = Object.fromEntries(list.body.devices.map((d: { id: string; revokedAt: string | null }) => [d.id, d.revokedAt !== null]));
      assert.deepEqual(states, { [first.deviceId]: true, [other.deviceId]: false });
      const revokeAudit = await setup.db().query<{ device_id: string; reason: string }>(
        "SELECT device_id, metadata->>'reason' AS reason FROM audit_log WHERE action = 'device.revoke'",
      );
      assert.deepEqual(revokeAudit.rows, [{ device_id: first.deviceId, reason: 'refresh-reuse' }]);
    });

    describe('the reuse grace (a client that lost the answer)', () => {
      const refresh = (refreshToken: string) => api(relay(), 'POST', '/v1/auth/refresh', { body: { refreshToken } });

      it('trades the previous token again while its successor was never used: a new pair, the unused one revoked, the device kept', async () => {
        const first = await signIn(relay(), 'ann@example.com');
        const lost = await refresh(first.refreshToken); // the answer the killed client never saved
        assert.equal(lost.status, 200);
        const again = await refresh(first.refreshToken);
        assert.equal(again.status, 200, JSON.stringify(again.body));
        assert.equal(again.body.deviceId, first.deviceId);
        assert.notEqual(again.body.refreshToken, lost.body.refreshToken);
        assert.equal(again.body.sessionId, undefined, 'no internal field in the answer');
        assert.equal((await api(relay(), 'GET', '/v1/devices', { token: again.body.accessToken })).status, 200);
        assert.equal(errorCode(await api(relay(), 'GET', '/v1/devices', { token: lost.body.accessToken })), 'AUTH_TOKEN_INVALID');
        assert.equal(errorCode(await refresh(lost.body.refreshToken)), 'AUTH_TOKEN_INVALID', 'the replaced pair is revoked, not reused');
        const next = await refresh(again.body.refreshToken);
        assert.equal(next.status, 200, 'the new pair rotates as usual');
        const graced = await setup.db().query("SELECT 1 FROM audit_log WHERE action = 'auth.refresh' AND metadata->>'reuseGrace' = 'true'");
        assert.equal(graced.rowCount, 1);
        const device = await setup.db().query<{ revoked_at: Date | null }>('SELECT revoked_at FROM devices WHERE id = $1', [first.deviceId]);
        assert.equal(device.rows[0]!.revoked_at, null);
      });

      it('still revokes when the successor was used: its access token accepted, or itself rotated', async () => {
        for (const use of ['access', 'rotate'] as const) {
          const first = await signIn(relay(), `${use}@example.com`);
          const second = await refresh(first.refreshToken);
          if (use === 'access') assert.equal((await api(relay(), 'GET', '/v1/devices', { token: second.body.accessToken })).status, 200);
          else assert.equal((await refresh(second.body.refreshToken)).status, 200);
          assert.equal(errorCode(await refresh(first.refreshToken)), 'AUTH_REFRESH_REUSED', use);
          const device = await setup.db().query<{ revoked_at: Date | null }>('SELECT revoked_at FROM devices WHERE id = $1', [first.deviceId]);
          assert.notEqual(device.rows[0]!.revoked_at, null, use);
        }
      });

      it('still revokes after the grace, counted from the first rotation', async () => {
        const first = await signIn(relay(), 'ann@example.com');
        assert.equal((await refresh(first.refreshToken)).status, 200);
        await setup.db().query("UPDATE sessions SET rotated_at = rotated_at - interval '61 seconds' WHERE rotated_at IS NOT NULL");
        assert.equal(errorCode(await refresh(first.refreshToken)), 'AUTH_REFRESH_REUSED');
      });
    });

    it('refuses unknown and malformed refresh tokens with 401 AUTH_TOKEN_INVALID', async () => {
      for (const refreshToken of ['rsr_' + 'A'.repeat(43), 'garbage']) {
        const res = await api(relay(), 'POST', '/v1/auth/refresh', { body: { refreshToken } });
        assert.equal(res.status, 401);
        assert.equal(errorCode(res), 'AUTH_TOKEN_INVALID');
      }
    });
  });

  describe('POST /v1/auth/logout', () => {
    it('ends the device: its access and refresh tokens stop working and the revocation hook fires', async () => {
      const session = await signIn(relay(), 'ann@example.com');
      const revoked: string[] = [];
      const stop = relay().sessions.onDeviceRevoked((id) => revoked.push(id));
      const res = await api(relay(), 'POST', '/v1/auth/logout', { token: session.accessToken });
      stop();
      assert.equal(res.status, 204);
      assert.deepEqual(revoked, [session.deviceId]);
      assert.equal(errorCode(await api(relay(), 'GET', '/v1/devices', { token: session.accessToken })), 'AUTH_TOKEN_INVALID');
      assert.equal(errorCode(await api(relay(), 'POST', '/v1/auth/refresh', { body: { refreshToken: session.refreshToken } })), 'AUTH_TOKEN_INVALID');
    });
  });

  describe('devices', () => {
    it('lists the user\'s devices with the current one marked', async () => {
      const laptop = await signIn(relay(), 'ann@example.com', 'laptop');
      const desktop = await signIn(relay(), 'ann@example.com', 'desktop');
      await signIn(relay(), 'bob@example.com', 'bobs');
      const res = await api(relay(), 'GET', '/v1/devices', { token: desktop.accessToken });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.devices.map((d: { name: string; current: boolean; kind: string }) => [d.name, d.current, d.kind]), [
        ['laptop', false, 'vscode'],
        ['desktop', true, 'vscode'],
      ]);
      assert.ok(res.body.devices.some((d: { id: string }) => d.id === laptop.deviceId));
    });

    it('revokes a device: its tokens are refused at once and the hook fires', async () => {
      const laptop = await signIn(relay(), 'ann@example.com', 'laptop');
      const desktop = await signIn(relay(), 'ann@example.com', 'desktop');
      const revoked: string[] = [];
      const stop = relay().sessions.onDeviceRevoked((id) => revoked.push(id));
      assert.equal((await api(relay(), 'GET', '/v1/devices', { token: laptop.accessToken })).status, 200); // cached now
      const res = await api(relay(), 'DELETE', `/v1/devices/${laptop.deviceId}`, { token: desktop.accessToken });
      stop();
      assert.equal(res.status, 204);
      assert.deepEqual(revoked, [laptop.deviceId]);
      assert.equal(errorCode(await api(relay(), 'GET', '/v1/devices', { token: laptop.accessToken })), 'AUTH_TOKEN_INVALID');
      const list = await api(relay(), 'GET', '/v1/devices', { token: desktop.accessToken });
      assert.ok(list.body.devices.find((d: { id: string }) => d.id === laptop.deviceId).revokedAt);
    });

    it("answers another user's device id exactly like an unknown one (404 DEVICE_NOT_FOUND)", async () => {
      const ann = await signIn(relay(), 'ann@example.com');
      const bob = await signIn(relay(), 'bob@example.com');
      const foreign = await api(relay(), 'DELETE', `/v1/devices/${bob.deviceId}`, { token: ann.accessToken });
      const unknown = await api(relay(), 'DELETE', '/v1/devices/00000000-0000-4000-8000-000000000000', { token: ann.accessToken });
      const malformed = await api(relay(), 'DELETE', '/v1/devices/not-a-uuid', { token: ann.accessToken });
      assert.equal(foreign.status, 404);
      assert.deepEqual(foreign.body, unknown.body);
      assert.deepEqual(malformed.body, unknown.body);
      assert.equal(errorCode(foreign), 'DEVICE_NOT_FOUND');
      assert.equal((await api(relay(), 'GET', '/v1/devices', { token: bob.accessToken })).status, 200);
    });
  });

  describe('POST /v1/users', () => {
    it('creates an account when sign-up is allowed; a taken email is 409 USER_EXISTS', async () => {
      const created = await api(relay(), 'POST', '/v1/users', { body: { email: 'new@example.com', password: PASSWORD } });
      assert.equal(created.status, 201);
      await signIn(relay(), 'new@example.com', 'laptop', false);
      const again = await api(relay(), 'POST', '/v1/users', { body: { email: 'NEW@example.com', password: PASSWORD } });
      assert.equal(again.status, 409);
      assert.equal(errorCode(again), 'USER_EXISTS');
      const weak = await api(relay(), 'POST', '/v1/users', { body: { email: 'weak@example.com', password: 'short' } });
      assert.equal(errorCode(weak), 'PASSWORD_INVALID');
    });
  });

  describe('DELETE /v1/account', () => {
    it('removes every row and blob of the user and nothing of anyone else', async () => {
      const ann = await signIn(relay(), 'ann@example.com');
      const bob = await signIn(relay(), 'bob@example.com');
      const blob = Buffer.alloc(1_500_000, 1);
      const hash = createHash('sha256').update(blob).digest('hex');
      for (const who of [ann, bob]) {
        const put = await fetch(`${relay().url}/v1/blobs/${hash}`, { method: 'PUT', headers: { authorization: `Bearer ${who.accessToken}` }, body: blob });
        assert.equal(put.status, 201);
      }
      await seedSyncedState(setup.db(), ann.userId, ann.deviceId);
      await seedSyncedState(setup.db(), bob.userId, bob.deviceId);
      // Every table that can hold a user's rows, read from the catalog: a new table is covered without editing this test.
      const schema = await userTables(setup.db());
      assert.deepEqual(schema.unlinked, ['schema_migrations'], 'a table with no user_id and no foreign-key path to users: is it per-user data?');
      const annBefore = await userRowKeys(setup.db(), schema.tables, ann.userId);
      const bobBefore = await userRowKeys(setup.db(), schema.tables, bob.userId);
      for (const table of schema.tables) {
        assert.ok(annBefore[table.name]!.length > 0, `seedSyncedState puts none of the user's rows into ${table.name}: the deletion check would prove nothing there`);
        assert.ok(bobBefore[table.name]!.length > 0, `no row of the other user in ${table.name}`);
      }

      const wrong = await api(relay(), 'DELETE', '/v1/account', { token: ann.accessToken, body: { password: 'not the password' } });
      assert.equal(errorCode(wrong), 'AUTH_INVALID_CREDENTIALS');
      const revoked: string[] = [];
      const stop = relay().sessions.onDeviceRevoked((id) => revoked.push(id));
      const res = await api(relay(), 'DELETE', '/v1/account', { token: ann.accessToken, body: { password: PASSWORD } });
      stop();
      assert.equal(res.status, 204);
      assert.deepEqual(revoked, [ann.deviceId]);

      const left = await remainingUserRows(setup.db(), schema.tables, ann.userId, annBefore);
      assert.deepEqual(Object.entries(left).filter(([, n]) => n > 0), [], 'no row of the deleted user is left');
      assert.deepEqual(await userRowKeys(setup.db(), schema.tables, bob.userId), bobBefore, "the other user's rows are untouched");
      assert.equal(errorCode(await api(relay(), 'GET', '/v1/devices', { token: ann.accessToken })), 'AUTH_TOKEN_INVALID');
      const bobBlob = await fetch(`${relay().url}/v1/blobs/${hash}`, { headers: { authorization: `Bearer ${bob.accessToken}` } });
      assert.equal(bobBlob.status, 200);
      assert.equal(Buffer.from(await bobBlob.arrayBuffer()).length, blob.length);
    });
  });

  describe('operations', () => {
    it('GET /healthz answers ok with the version of package.json', async () => {
      const res = await api(relay(), 'GET', '/healthz');
      assert.equal(res.status, 200);
      assert.equal(res.body.status, 'ok');
      assert.equal(res.body.version, (JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string }).version);
    });

    it('GET /readyz reports the database and cache', async () => {
      const res = await api(relay(), 'GET', '/readyz');
      assert.equal(res.status, 200);
      assert.equal(res.body.status, 'ready');
      assert.equal(res.body.database.ok, true);
      assert.equal(res.body.database.kind, setup.db().kind);
    });

    it('GET /metrics serves Prometheus text with HTTP and session-cache counters', async () => {
      const session = await signIn(relay(), 'ann@example.com');
      await api(relay(), 'GET', '/v1/devices', { token: session.accessToken });
      await api(relay(), 'GET', '/v1/devices', { token: session.accessToken });
      const res = await fetch(`${relay().url}/metrics`);
      assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
      const text = await res.text();
      assert.match(text, /roo_sync_http_requests_total\{method="GET",route="\/v1\/devices",status="200"\} [1-9]/);
      assert.match(text, /roo_sync_cache_hits_total\{cache="session"\} [1-9]/);
      assert.match(text, /roo_sync_cache_misses_total\{cache="session"\} [1-9]/);
    });
  });

  describe('bad input', () => {
    it('answers malformed JSON with 400 BODY_INVALID_JSON', async () => {
      const res = await api(relay(), 'POST', '/v1/auth/login', { body: '{"email": "a@b.c", ' });
      assert.equal(res.status, 400);
      assert.equal(errorCode(res), 'BODY_INVALID_JSON');
      assert.equal(typeof res.body.error.message, 'string');
    });

    it('answers missing and wrongly typed fields with 400 REQUEST_INVALID', async () => {
      for (const body of [{}, [], 'null', { email: 'a@b.c' }, { email: 5, password: PASSWORD }, { email: 'a@b.c', password: PASSWORD, device: 'x' }, { email: 'a@b.c', password: PASSWORD, device: { kind: 'toaster' } }]) {
        const res = await api(relay(), 'POST', '/v1/auth/login', { body });
        assert.equal(res.status, 400, JSON.stringify(body));
        assert.equal(errorCode(res), 'REQUEST_INVALID', JSON.stringify(body));
      }
      assert.equal(errorCode(await api(relay(), 'POST', '/v1/auth/login', { body: { email: 'not-an-email', password: PASSWORD } })), 'EMAIL_INVALID');
    });

    it('refuses a body over the limit with 413 BODY_TOO_LARGE, and a non-JSON body with 415', async () => {
      const huge = JSON.stringify({ email: 'a@b.c', password: 'x'.repeat(2 * 1024 * 1024) });
      const res = await api(relay(), 'POST', '/v1/auth/login', { body: huge });
      assert.equal(res.status, 413);
      assert.equal(errorCode(res), 'BODY_TOO_LARGE');
      const text = await api(relay(), 'POST', '/v1/auth/login', { body: 'email=a', headers: { 'content-type': 'text/plain' } });
      assert.equal(text.status, 415);
      assert.equal(errorCode(text), 'CONTENT_TYPE_UNSUPPORTED');
    });

    it('answers a missing token with 401 AUTH_REQUIRED and a bad one with 401 AUTH_TOKEN_INVALID', async () => {
      const missing = await api(relay(), 'GET', '/v1/devices');
      assert.equal(missing.status, 401);
      assert.equal(errorCode(missing), 'AUTH_REQUIRED');
      for (const header of ['Bearer nope', 'Basic abc', `Bearer rsa_00000000-0000-4000-8000-000000000000_${'A'.repeat(43)}`]) {
        const res = await api(relay(), 'GET', '/v1/devices', { headers: { authorization: header } });
        assert.equal(res.status, 401);
        assert.equal(errorCode(res), 'AUTH_TOKEN_INVALID');
      }
    });

    it('answers unknown paths with 404 ROUTE_NOT_FOUND and wrong methods with 405 and Allow', async () => {
      const unknown = await api(relay(), 'GET', '/v1/nothing');
      assert.equal(unknown.status, 404);
      assert.equal(errorCode(unknown), 'ROUTE_NOT_FOUND');
      const wrong = await api(relay(), 'GET', '/v1/auth/login');
      assert.equal(wrong.status, 405);
      assert.equal(errorCode(wrong), 'METHOD_NOT_ALLOWED');
      assert.equal(wrong.headers.get('allow'), 'POST');
    });

    it('keeps serving everyone else after a burst of bad requests', async () => {
      const session = await signIn(relay(), 'ann@example.com');
      await Promise.all(Array.from({ length: 20 }, (_, i) => api(relay(), 'POST', '/v1/auth/refresh', { body: i % 2 ? '{' : { refreshToken: i } })));
      assert.equal((await api(relay(), 'GET', '/v1/devices', { token: session.accessToken })).status, 200);
    });
  });
}

/** Puts rows of the user's into every table that sign-in and a blob upload do not fill (the deletion test checks that every user table has one). */
async function seedSyncedState(db: Database, userId: string, deviceId: string): Promise<void> {
  await db.query(`INSERT INTO workspaces (user_id, id) VALUES ($1, 'ws')`, [userId]);
  const conv = await db.query<{ id: string }>(`INSERT INTO conversations (user_id, source, task_id) VALUES ($1, 'roo-code', 't1') RETURNING id`, [userId]);
  const convId = conv.rows[0]!.id;
  await db.query(`INSERT INTO messages (conversation_id, stream, entry_key, key_major, content_hash, seq) VALUES ($1, 'ui', '1', 1, 'h', 1)`, [convId]);
  await db.query(`INSERT INTO message_changes (conversation_id, stream, entry_key, change_type, seq) VALUES ($1, 'ui', '1', 'put', 1)`, [convId]);
  await db.query(`INSERT INTO file_sync_state (user_id, workspace_id, path) VALUES ($1, 'ws', 'a.txt')`, [userId]);
  await db.query(`INSERT INTO file_changes (user_id, workspace_id, path, change_type, seq) VALUES ($1, 'ws', 'a.txt', 'put', 1)`, [userId]);
  await db.query(`INSERT INTO sync_log_heads (user_id, seq) VALUES ($1, 1)`, [userId]);
  await db.query(`INSERT INTO sync_operations (user_id, seq, device_id, client_seq, entity, change_type, body) VALUES ($1, 1, $2, 1, 'task:x', 'task.meta', '{}')`, [userId, deviceId]);
  await db.query(`INSERT INTO offline_operations (user_id, device_id, client_seq) VALUES ($1, $2, 1)`, [userId, deviceId]);
  await db.query(`INSERT INTO command_queue (user_id, target_device_id, kind, expires_at) VALUES ($1, $2, 'task.cancel', now() + interval '1 hour')`, [userId, deviceId]);
  await db.query(`INSERT INTO blob_uploads (user_id, hash, total_size, received, expires_at) VALUES ($1, $2, 10, 3, now() + interval '1 hour')`, [userId, 'b'.repeat(64)]);
  await db.query(`INSERT INTO blob_upload_pieces (user_id, hash, piece, content) VALUES ($1, $2, 0, '\\x010203'::bytea)`, [userId, 'b'.repeat(64)]);
  await db.query(`INSERT INTO read_model_cursors (user_id, seq) VALUES ($1, 1) ON CONFLICT (user_id) DO NOTHING`, [userId]);
}
