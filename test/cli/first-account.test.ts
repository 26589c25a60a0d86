/**
 * The first account while the embedded relay runs (`npm start`, then `roo-sync user add`):
 * the relay holds the PGlite data directory, so the command creates the account through the
 * relay's local admin route with the token the relay wrote into that directory, and the
 * account can sign in at once. Regression: `user add` failed DB_DATA_DIR_LOCKED until the relay
 * was stopped.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADMIN_ACCESS_FILE, ADMIN_USERS_PATH, isLocalPeer, readAdminAccess } from '../../server/http/admin-access';
import { runCliProcess } from '../support/cli-bin-process';
import { startRelayProcess, type RelayProcess } from '../support/relay-process';

const PASSWORD = 'a strong first password';

describe('the first account while the embedded relay runs', function () {
  this.timeout(120_000);
  let dir: string;
  let dataDir: string;
  let relay: RelayProcess | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'roo-first-account-'));
    dataDir = join(dir, 'data');
    relay = await startRelayProcess({ dataDir });
  });
  after(async () => {
    await relay?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('`roo-sync user add` creates it through the relay, and it signs in', async () => {
    const run = await runCliProcess(['user', 'add', 'ann@example.com', '--data-dir', dataDir], { stdin: `${PASSWORD}\n` });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^created user ann@example\.com \([0-9a-f-]{36}\) through the running relay at http:\/\/127\.0\.0\.1:\d+\n$/);

    const login = await fetch(`${relay!.url}/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'ann@example.com', password: PASSWORD, device: { name: 'laptop', kind: 'cli' } }),
    });
    assert.equal(login.status, 200);
    assert.ok(((await login.json()) as { accessToken?: string }).accessToken);
  });

  it('answers the same errors as without a relay (USER_EXISTS)', async () => {
    const run = await runCliProcess(['user', 'add', 'ANN@example.com', '--data-dir', dataDir], { stdin: `${PASSWORD}\n` });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^roo-sync: \[USER_EXISTS\] /);
  });

  it('keeps the token in a file only its owner can read, and refuses a request without it', async () => {
    const path = join(dataDir, ADMIN_ACCESS_FILE);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const access = readAdminAccess(dataDir)!;
    assert.equal(access.pid, relay!.pid);
    for (const authorization of [undefined, 'Bearer not-the-token']) {
      const res = await fetch(`${access.url}${ADMIN_USERS_PATH}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body: JSON.stringify({ email: 'mallory@example.com', password: PASSWORD }),
      });
      assert.equal(res.status, 401);
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'ADMIN_TOKEN_INVALID');
    }
  });

  it('answers only peers on this machine', () => {
    const peer = (remoteAddress: string, localAddress = '127.0.0.1') => ({ remoteAddress, localAddress }) as Socket;
    assert.equal(isLocalPeer(peer('127.0.0.1')), true);
    assert.equal(isLocalPeer(peer('::ffff:127.0.0.1')), true);
    assert.equal(isLocalPeer(peer('::1', '::1')), true);
    assert.equal(isLocalPeer(peer('192.168.1.20', '192.168.1.20')), true, 'its own address');
    assert.equal(isLocalPeer(peer('192.168.1.21', '192.168.1.20')), false);
    assert.equal(isLocalPeer(peer('203.0.113.9', '172.30.87.2')), false);
  });

  it('removes the token file when the relay stops', async () => {
    assert.deepEqual(await relay!.stop(), { code: 0, signal: null });
    relay = undefined;
    assert.equal(existsSync(join(dataDir, ADMIN_ACCESS_FILE)), false);
  });

  it('`roo-sync user add` with no relay running names the database it made, says it is new, and makes none for a refused password', async () => {
    const elsewhere = join(dir, 'elsewhere', 'data');
    const refused = await runCliProcess(['user', 'add', 'bob@example.com', '--data-dir', elsewhere], { stdin: 'short\n' });
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /\[PASSWORD_INVALID\]/);
    assert.equal(existsSync(elsewhere), false, 'no database made for a refused password');

    const run = await runCliProcess(['user', 'add', 'bob@example.com', '--data-dir', elsewhere], { stdin: `${PASSWORD}\n` });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, `created user bob@example.com (${/\(([0-9a-f-]{36})\)/.exec(run.stdout)?.[1]}) in the embedded database at ${elsewhere}\n`);
    assert.match(run.stderr, /^roo-sync: .*held no database, so a new one was made there\. A relay started from another folder keeps its own/m);
    const again = await runCliProcess(['user', 'add', 'cy@example.com', '--data-dir', elsewhere], { stdin: `${PASSWORD}\n` });
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /held no database/, 'said once, when it was made');
  });
});
