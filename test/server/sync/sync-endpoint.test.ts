/**
 * The sync endpoint's own limits and bookkeeping on PGlite (the conformance suite covers the
 * protocol): per-device rate limit, resync after compaction, metrics, and shutdown.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { UserId } from '../../../core/ids';
import { CloseCode } from '../../../core/protocol/close-codes';
import { openCache, type CacheBackend } from '../../../server/cache/open-cache';
import { compactLog } from '../../../server/db/change-log';
import type { Database } from '../../../server/db/database';
import { migrate } from '../../../server/db/migrator';
import type { RawWsClient } from '../../conformance/raw-ws-client';
import { newAccessToken, tokenHash } from '../../../server/auth/tokens';
import { openTestPglite } from '../../support/pglite';
import { connectDevice, streamPut } from '../../support/sync-client';
import { createTestDevice, createTestUser, startSyncRelay, type SyncRelay } from '../../support/sync-relay';

describe('attachSyncEndpoint (PGlite)', function () {
  this.timeout(20_000);
  let db: Database;
  let backend: CacheBackend;
  let relay: SyncRelay;
  const clients: RawWsClient[] = [];

  before(async () => {
    db = await openTestPglite();
    await migrate(db);
    backend = await openCache();
    relay = await startSyncRelay({ db, backend, ws: { rateLimitPerSecond: 5, rateLimitBurst: 20 } });
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  after(async () => {
    await relay?.close();
    await backend?.close();
    await db?.close();
  });

  async function connect(device: { deviceId: string; token: string }, cursor = 0) {
    const connected = await connectDevice(relay.url, device, { cursor });
    clients.push(connected.client);
    return connected;
  }

  describe('rate limit', () => {
    it('closes with RateLimited (4429) after a RATE_LIMITED error when a device sends past its burst', async () => {
      const userId = await createTestUser(db);
      const device = await createTestDevice(db, userId);
      const other = await createTestDevice(db, userId);
      const { client } = await connect(device);
      for (let i = 0; i < 40; i++) client.send({ type: 'ping', id: `p${i}` });
      const closed = await client.waitClosed();
      assert.equal(closed.code, CloseCode.RateLimited);
      assert.ok(client.received.some((m) => m.type === 'error' && m.code === 'RATE_LIMITED'));
      assert.ok(client.received.filter((m) => m.type === 'pong').length <= 20);
      // Another device of the same user has its own allowance.
      const { client: fine } = await connect(other);
      assert.equal((await fine.request({ type: 'ping' })).type, 'pong');
    });
  });

  describe('resync', () => {
    it('sets welcome.resync for a cursor older than the compaction point and refuses to pull from it', async () => {
      const userId = await createTestUser(db);
      const device = await createTestDevice(db, userId);
      const { client } = await connect(device);
      // Three versions of one entry: the first two are superseded and compaction removes them.
      for (let i = 1; i <= 3; i++) await client.request({ type: 'push', changes: [streamPut(i, 't', 1, `v${i}`)] });
      const compacted = await compactLog(db, userId as UserId, new Date(Date.now() + 60_000));
      assert.equal(compacted.compactedSeq, 2);
      const { welcome: stale, client: staleClient } = await connect(device, 1);
      assert.equal(stale.resync, true);
      const refused = await staleClient.request({ type: 'pull', cursor: 1, limit: 10 });
      assert.equal(refused.type === 'error' && refused.code, 'CURSOR_COMPACTED');
      const { welcome: current } = await connect(device, 3);
      assert.equal(current.resync, false);
      const full = await staleClient.request({ type: 'pull', cursor: 0, limit: 10 });
      assert.deepEqual(full.type === 'changes' && full.changes.map((c) => c.seq), [3]);
    });
  });

  describe('metrics', () => {
    it('counts connections, frames, raw and compressed bytes, close codes and sync latency', async () => {
      const userId = await createTestUser(db);
      const [one, two] = [await createTestDevice(db, userId), await createTestDevice(db, userId)];
      const a = (await connectDevice(relay.url, one, { codecs: ['deflate', 'none'] })).client;
      const { client: b } = await connect(two);
      await a.request({ type: 'push', changes: [streamPut(1, 't', 1, 'x'.repeat(4000))] });
      await b.waitFor((m) => m.type === 'changes' && m.replyTo === undefined, 'live changes');
      await a.close();
      const text = await relay.metrics.render();
      const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? NaN);
      assert.ok(value(/^roo_sync_ws_connections (\d+)/m) >= 1);
      assert.ok(value(/^roo_sync_ws_frames_total\{direction="in"\} (\d+)/m) >= 3);
      assert.ok(value(/^roo_sync_ws_frames_total\{direction="out"\} (\d+)/m) >= 3);
      const rawIn = value(/^roo_sync_ws_bytes_total\{direction="in",encoding="raw"\} (\d+)/m);
      const wireIn = value(/^roo_sync_ws_bytes_total\{direction="in",encoding="compressed"\} (\d+)/m);
      assert.ok(rawIn > wireIn, `a deflated push is smaller on the wire (${rawIn} raw, ${wireIn} wire)`);
      assert.ok(value(/^roo_sync_ws_closes_total\{code="1000"\} (\d+)/m) >= 1);
      assert.ok(value(/^roo_sync_sync_latency_seconds_count (\d+)/m) >= 1);
    });
  });

  describe('access token expiry', () => {
    /** Another session of an existing device (what a refresh gives), its access token valid `ttlMs`. */
    async function freshToken(userId: string, deviceId: string, ttlMs: number): Promise<string> {
      const sessionId = randomUUID();
      const token = newAccessToken(sessionId);
      await db.query(
        `INSERT INTO sessions (id, user_id, device_id, family_id, refresh_token_hash, expires_at, metadata)
         VALUES ($1, $2, $3, $4, $5, now() + interval '1 day', $6::jsonb)`,
        [sessionId, userId, deviceId, randomUUID(), tokenHash(randomUUID()), JSON.stringify({ accessHash: tokenHash(token), accessExpiresAt: Date.now() + ttlMs })],
      );
      return token;
    }

    it('closes with Unauthorized (4401) and AUTH_TOKEN_EXPIRED when the token expires on an open socket', async () => {
      const userId = await createTestUser(db);
      const device = await createTestDevice(db, userId, 1.5);
      const expiresAt = Date.now() + 1_500;
      const { client } = await connect(device);
      assert.equal((await client.request({ type: 'ping' })).type, 'pong');
      const closed = await client.waitClosed(10_000);
      assert.equal(closed.code, CloseCode.Unauthorized);
      assert.equal(closed.reason, 'AUTH_TOKEN_EXPIRED');
      assert.ok(Date.now() >= expiresAt - 50, 'not closed before the token expired');
      assert.ok(client.received.some((m) => m.type === 'error' && m.code === 'AUTH_TOKEN_EXPIRED'));
    });

    it('keeps the socket open past the first expiry after a fresh auth, and enforces the new expiry', async () => {
      const userId = await createTestUser(db);
      const device = await createTestDevice(db, userId, 1.5);
      // A second device whose token expires with the first one's and is never renewed: its close
      // is the relay telling us the first expiry has passed (no sleeping until a wall-clock time).
      const control = await createTestDevice(db, userId, 1.5);
      const { client } = await connect(device);
      const { client: unrenewed } = await connect(control);
      const controlClosed = unrenewed.waitClosed(10_000);
      const secondExpiry = Date.now() + 3_500; // no later than the new token's expiry
      const renewed = await client.request({ type: 'auth', token: await freshToken(userId, device.deviceId, 3_500) });
      assert.equal(renewed.type, 'auth.ok');
      const closing = client.waitClosed(15_000);
      let closedAt = 0;
      void closing.then(() => { closedAt = Date.now(); }, () => undefined);

      const controlClose = await controlClosed;
      assert.equal(controlClose.code, CloseCode.Unauthorized);
      assert.equal(controlClose.reason, 'AUTH_TOKEN_EXPIRED');
      // The first token's expiry (no later than the control's) has passed: the renewed socket still answers.
      assert.equal(closedAt, 0, 'the renewed socket was not closed at the first expiry');
      assert.equal((await client.request({ type: 'ping' })).type, 'pong');

      const closed = await closing;
      assert.equal(closed.code, CloseCode.Unauthorized);
      assert.equal(closed.reason, 'AUTH_TOKEN_EXPIRED');
      assert.ok(closedAt >= secondExpiry - 50, `closed at the new expiry, not before (${secondExpiry - closedAt} ms early)`);
    });
  });

  describe('#close', () => {
    it('closes open sockets with GoingAway (1001) and can be called twice', async () => {
      const own = await startSyncRelay({ db, backend });
      const userId = await createTestUser(db);
      const { client } = await connectDevice(own.url, await createTestDevice(db, userId));
      const closing = client.waitClosed();
      await Promise.all([own.endpoint.close(), own.endpoint.close()]);
      assert.equal((await closing).code, CloseCode.GoingAway);
      await own.close();
    });
  });
});
