/**
 * `roo-sync login` / `logout` / exit codes, driving the built dist/cli.js against the real
 * relay on PGlite (127.0.0.1, port 0).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createUser } from '../../server/accounts/users';
import { PASSWORD, api, errorCode, usePgliteRelay } from '../server/http/relay-fixture';
import { buildCli, machineIn, runCli, type Machine } from '../support/cli-process';

describe('roo-sync login / logout (dist/cli.js)', function () {
  this.timeout(60_000);
  const suite = usePgliteRelay();
  let root: string;
  let machine: Machine;

  before(async () => {
    await buildCli();
    await createUser(suite.db(), { email: 'ann@example.com', password: PASSWORD });
  });

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'roo-sync-cli-login-'));
    machine = await machineIn(join(root, 'home'));
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const credentialsPath = (): string => join(machine.home, '.config', 'roo-sync', 'credentials.json');

  it('signs in with the password from stdin into a 0600 file that holds no access token or password, and logout revokes the device', async () => {
    const login = await runCli(machine, ['login', '--server', suite.relay().url, '--email', 'ann@example.com', '--device-name', 'ci box', '--json'], { input: `${PASSWORD}\n` });
    assert.equal(login.code, 0, login.stderr);
    const result = JSON.parse(login.stdout) as { deviceId: string; email: string };
    assert.equal(result.email, 'ann@example.com');
    const info = await stat(credentialsPath());
    assert.equal(info.mode & 0o777, 0o600);
    const text = await readFile(credentialsPath(), 'utf8');
    assert.ok(!text.includes(PASSWORD), 'no password');
    const creds = JSON.parse(text) as Record<string, unknown>;
    assert.equal(creds['deviceId'], result.deviceId);
    assert.ok(!Object.keys(creds).some((k) => /access/i.test(k)), `no access token: ${Object.keys(creds).join(', ')}`);
    const refreshToken = creds['refreshToken'] as string;

    const logout = await runCli(machine, ['logout']);
    assert.equal(logout.code, 0, logout.stderr);
    assert.match(logout.stdout, /revoked/);
    await assert.rejects(stat(credentialsPath()), /ENOENT/);
    const refused = await api(suite.relay(), 'POST', '/v1/auth/refresh', { body: { refreshToken } });
    assert.equal(refused.status, 401);
    assert.equal(errorCode(refused), 'AUTH_TOKEN_INVALID');
  });

  it('exits 4 with a coded line for a wrong password, and stores nothing', async () => {
    const login = await runCli(machine, ['login', '--server', suite.relay().url, '--email', 'ann@example.com'], { input: 'wrong password\n' });
    assert.equal(login.code, 4);
    assert.match(login.stderr, /^roo-sync: \[AUTH_INVALID_CREDENTIALS\] /);
    assert.ok(!login.stderr.includes('    at '), 'no stack');
    await assert.rejects(stat(credentialsPath()), /ENOENT/);
  });

  it('says stdin held no password (PASSWORD_MISSING) when it was empty, without asking the relay', async () => {
    const login = await runCli(machine, ['login', '--server', 'http://127.0.0.1:9', '--email', 'ann@example.com'], { input: '' });
    assert.equal(login.code, 1, login.stderr);
    assert.match(login.stderr, /^roo-sync: \[PASSWORD_MISSING\] stdin held no password/);
    await assert.rejects(stat(credentialsPath()), /ENOENT/);
  });

  it('exits 5 when the relay cannot be reached, 4 when a command needs a sign-in, 2 on a usage error', async () => {
    const unreachable = await runCli(machine, ['login', '--server', 'http://127.0.0.1:9', '--email', 'ann@example.com'], { input: 'x\n' });
    assert.equal(unreachable.code, 5, unreachable.stderr);
    assert.match(unreachable.stderr, /\[RELAY_UNREACHABLE\]/);
    const notSignedIn = await runCli(machine, ['backfill', '--target', join(root, 'home')]);
    assert.equal(notSignedIn.code, 4, notSignedIn.stderr);
    assert.match(notSignedIn.stderr, /\[CLI_NOT_SIGNED_IN\]/);
    const usage = await runCli(machine, ['backfill', '--no-such-flag']);
    assert.equal(usage.code, 2);
    const help = await runCli(machine, ['--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Exit codes:[\s\S]*4 {2}not signed in/);
  });

  it('logout offline deletes the credentials and says the device is still registered', async () => {
    const login = await runCli(machine, ['login', '--server', suite.relay().url, '--email', 'ann@example.com'], { input: `${PASSWORD}\n` });
    assert.equal(login.code, 0, login.stderr);
    // Point the stored credentials at a port nothing listens on.
    const creds = JSON.parse(await readFile(credentialsPath(), 'utf8')) as Record<string, unknown>;
    const { writeFile } = await import('node:fs/promises');
    await writeFile(credentialsPath(), JSON.stringify({ ...creds, serverUrl: 'http://127.0.0.1:9' }), { mode: 0o600 });
    const logout = await runCli(machine, ['logout', '--json']);
    assert.equal(logout.code, 0, logout.stderr);
    const result = JSON.parse(logout.stdout) as { wasSignedIn: boolean; revoked: boolean; error?: { code: string } };
    assert.deepEqual([result.wasSignedIn, result.revoked], [true, false]);
    assert.equal(result.error?.code, 'RELAY_UNREACHABLE');
    await assert.rejects(stat(credentialsPath()), /ENOENT/);
  });

  it('devices lists the account\'s devices through the relay, and devices sign-out signs another one out', async () => {
    const laptop = await machineIn(join(root, 'laptop'));
    for (const [m, name] of [[machine, 'desktop'], [laptop, 'laptop']] as const) {
      const login = await runCli(m, ['login', '--server', suite.relay().url, '--email', 'ann@example.com', '--device-name', name], { input: `${PASSWORD}\n` });
      assert.equal(login.code, 0, login.stderr);
    }
    const listed = await runCli(machine, ['devices', '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const devices = (JSON.parse(listed.stdout) as { devices: Array<{ id: string; name: string; current: boolean; kind: string; revokedAt: string | null }> }).devices;
    const mine = devices.filter((d) => d.name === 'desktop' || d.name === 'laptop');
    assert.deepEqual(mine.map((d) => [d.name, d.current, d.kind]).sort(), [['desktop', true, 'cli'], ['laptop', false, 'cli']]);
    assert.match((await runCli(machine, ['devices'])).stdout, /^\* desktop {2}\(cli, \w+\) .*\(this machine\)$/m);

    const self = await runCli(machine, ['devices', 'sign-out', 'desktop']);
    assert.equal(self.code, 2, self.stderr);
    assert.match(self.stderr, /\[CLI_USAGE\] "desktop" is this machine: run "roo-sync logout"/);
    const unknown = await runCli(machine, ['devices', 'sign-out', 'no such device']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /\[DEVICE_NOT_FOUND\]/);

    const out = await runCli(machine, ['devices', 'sign-out', 'laptop']);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /signed out "laptop"/);
    // The laptop's refresh token no longer works: its next command is refused and signs it out.
    const refused = await runCli(laptop, ['devices']);
    assert.equal(refused.code, 4, refused.stderr);
  });

  it('devices sign-out: a name this machine shares picks the other device; again by name says already signed out; --json after the sub-command', async () => {
    // Devcontainers and fresh VMs often share a host name, the CLI's default device name.
    const other = await machineIn(join(root, 'other'));
    for (const m of [machine, other]) {
      const login = await runCli(m, ['login', '--server', suite.relay().url, '--email', 'ann@example.com', '--device-name', 'ubuntu'], { input: `${PASSWORD}\n` });
      assert.equal(login.code, 0, login.stderr);
    }
    const otherId = (JSON.parse((await runCli(other, ['status', '--json'])).stdout) as { account: { deviceId: string } }).account.deviceId;
    const first = await runCli(machine, ['devices', 'sign-out', 'ubuntu', '--json']);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(JSON.parse(first.stdout), { deviceId: otherId, name: 'ubuntu', revoked: true });
    const again = await runCli(machine, ['devices', 'sign-out', 'ubuntu', '--json']);
    assert.equal(again.code, 2, 'by name, with the other gone, the name is this machine\'s');
    const byId = await runCli(machine, ['devices', 'sign-out', otherId, '--json']);
    assert.equal(byId.code, 0, byId.stderr);
    assert.equal((JSON.parse(byId.stdout) as { alreadySignedOut: boolean }).alreadySignedOut, true);
  });
});
