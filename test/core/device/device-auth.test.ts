/**
 * A live device's tokens against the real relay (PGlite): the access token expires every 10 s,
 * so the device must renew it (rotating the refresh token in its credentials file) and hand it
 * to the open socket before the relay closes the socket at expiry; revoking the device from
 * another one ends in `signed-out`, with the credentials cleared and no retry.
 */
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { RelayAuthClient } from '../../../core/client/relay-auth-client';
import { AuthSession } from '../../../core/client/auth-session';
import type { ClientStatus } from '../../../core/node/client/roo-cloud-client';
import { usePgliteDatabase } from '../../support/pglite';
import { assistantWrite, smallTask, useDeviceFixture, waitForTexts } from '../../support/device-fixture';
import { waitFor } from '../../support/redis';
import { PASSWORD, useSuiteRelay } from '../../server/http/relay-fixture';

const EMAIL = 'ann@example.com';
const TASK = '0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c';

describe('SyncDevice tokens on a real relay (PGlite, 10 s access tokens)', () => {
  const db = usePgliteDatabase();
  const relay = useSuiteRelay({ db, flags: () => ({}) }, { accessTokenTtlSeconds: 10 });
  const fixture = useDeviceFixture(relay);

  it('renews the access token before it expires, rotates the refresh token on disk, and keeps the socket', async function () {
    this.timeout(40_000);
    await fixture.account(EMAIL);
    const a = await fixture.folder();
    const b = await fixture.folder();
    await fixture.signIn(a, EMAIL, 'desktop');
    await fixture.signIn(b, EMAIL, 'laptop');
    const devA = await fixture.open(a);
    const devB = await fixture.open(b);
    await devA.waitUntilOnline();
    await devB.waitUntilOnline();
    const statuses: ClientStatus[] = [];
    devA.client!.onStatus((s) => statuses.push(s));
    const firstRefresh = (await a.credentials.load())!.refreshToken;
    let renewals = 0;
    devA.auth!.onRenewed(() => renewals++);
    // Past one whole access-token lifetime: the relay would have closed an unrenewed socket.
    await waitFor(() => renewals >= 2, 'two renewals', 25_000, 50);
    const now = (await a.credentials.load())!;
    assert.notEqual(now.refreshToken, firstRefresh, 'the refresh token rotated on disk');
    assert.equal((await stat(a.credentials.path)).mode & 0o777, 0o600);
    const text = await readFile(a.credentials.path, 'utf8');
    assert.ok(!text.includes('accessToken'), 'no access token on disk');
    // The same socket still carries changes both ways.
    assert.ok(devA.client!.isOnline);
    await assistantWrite(a.storePath, smallTask(TASK, ['after renewal']));
    await waitForTexts(b.storePath, TASK, ['after renewal'], 'the task on B after renewals');
    assert.deepEqual(statuses.map((s) => s.state), [], 'the socket never dropped (no status change since it was online)');
    // Spending the first refresh token again is reuse: the relay answers so, and revokes the device.
    await assert.rejects(new RelayAuthClient(relay().url).refresh(firstRefresh), { code: 'AUTH_REFRESH_REUSED' });
  });

  it('ends in signed-out, with the credentials cleared, when another device revokes it', async () => {
    await fixture.account(EMAIL);
    const a = await fixture.folder();
    await fixture.signIn(a, EMAIL, 'desktop');
    const devA = await fixture.open(a);
    await devA.waitUntilOnline();
    const admin = await new RelayAuthClient(relay().url).login({ email: EMAIL, password: PASSWORD, device: { name: 'phone', kind: 'mobile' } });
    await new RelayAuthClient(relay().url).revokeDevice(admin.accessToken, devA.deviceId!);
    await waitFor(() => devA.status.state === 'signed-out', `signed-out (is ${devA.status.state})`);
    assert.equal(await a.credentials.load(), null, 'credentials cleared');
    assert.equal(devA.client, null, 'the engine stopped');
    assert.equal(devA.status.lastError?.code, 'AUTH_SIGNED_OUT');
  });

  it('never spends one refresh token twice when two processes of a device renew at once', async () => {
    await fixture.account(EMAIL);
    const a = await fixture.folder();
    await fixture.signIn(a, EMAIL, 'desktop');
    const one = (await AuthSession.open({ store: a.credentials }))!;
    const two = (await AuthSession.open({ store: a.credentials }))!;
    await Promise.all([one.renew(), two.renew(), one.renew(), two.renew()]);
    assert.ok(!one.isSignedOut && !two.isSignedOut);
    // The device is still valid: a fresh session from the file renews fine.
    const three = (await AuthSession.open({ store: a.credentials }))!;
    await three.renew();
    const devices = await new RelayAuthClient(relay().url).listDevices(await three.accessToken());
    assert.equal(devices.filter((d) => d.revokedAt === null).length, 1);
  });
});
