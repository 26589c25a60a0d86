/**
 * Sign In / Sign Out of roo-sync in a real extension host against a real relay (PGlite): the
 * device is registered and then revoked on the relay, and its refresh token is nowhere in the
 * user-data folder (settings, the logs of the output channel; the host suite checks globalState and workspaceState).
 */
import * as assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { basename, join } from 'node:path';
import { createUser } from '../../server/accounts/users';
import { PASSWORD, usePgliteRelay } from '../server/http/relay-fixture';
import { useExtensionHosts } from './support/host-session';

async function filesUnder(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(root, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(join(entry.parentPath, entry.name));
  }
  return out;
}

describe('roo-sync sign-in in a real extension host', function () {
  this.timeout(180_000);
  const relay = usePgliteRelay();
  const hosts = useExtensionHosts();

  it('keeps the tokens in SecretStorage only and revokes the device at sign-out', async () => {
    const email = 'ext-sign-in@example.com';
    await createUser(relay.db(), { email, password: PASSWORD });
    const server = await hosts.startServer('sign-in');
    const secretsOut = join(server.runDir, 'secrets.json');
    const proxyClosedMarker = join(server.runDir, 'proxy-closed');
    const proxy = await startClosableProxy(new URL(relay.relay().url).port, proxyClosedMarker);
    try {
      await hosts.run(server, { suites: ['sign-in.host-test'], params: { serverUrl: relay.relay().url, proxyUrl: proxy.url, proxyClosedMarker, email, password: PASSWORD, secretsOut } });
    } finally {
      await proxy.close();
    }
    const { rows: kept } = await relay.db().query<{ revoked_at: Date | null }>("SELECT revoked_at FROM devices WHERE name = 'via the proxy'");
    assert.deepEqual(kept.map((r) => r.revoked_at), [null], 'the device whose relay could not be told stays registered (and the user was told)');

    const { deviceId, refreshToken } = JSON.parse(await readFile(secretsOut, 'utf8')) as { deviceId: string; refreshToken: string };
    const { rows } = await relay.db().query<{ revoked_at: Date | null }>('SELECT revoked_at FROM devices WHERE id = $1', [deviceId]);
    assert.equal(rows.length, 1, 'the device was registered');
    assert.notEqual(rows[0]!.revoked_at, null, 'and revoked at sign-out');

    const files = await filesUnder(server.userDataDir);
    const logs = files.filter((f) => f.startsWith(join(server.userDataDir, 'logs')) && basename(f).endsWith('-roo-sync.log'));
    assert.ok(logs.length > 0, `the output channel's log file is among the files searched: ${files.filter((f) => f.includes('logs')).join(', ')}`);
    // Machine-scoped settings of a remote (code-server) window live in Machine/settings.json.
    const settings = await readFile(join(server.userDataDir, 'Machine', 'settings.json'), 'utf8');
    assert.match(settings, /"rooSync\.serverUrl": "http:\/\/127\.0\.0\.1:\d+"/);
    assert.match(await readFile(logs[0]!, 'utf8'), /\[info\] signed in to http:\/\/127\.0\.0\.1:\d+ as ext-sign-in@example\.com/);
    for (const file of files) {
      const content = await readFile(file);
      assert.equal(content.includes(refreshToken), false, `the refresh token is in ${file}`);
      assert.equal(content.includes(PASSWORD), false, `the password is in ${file}`);
    }
  });
});

/**
 * A TCP proxy to the relay on 127.0.0.1 that goes away for good once `marker` exists (the host
 * suite writes it): it closes every connection it carries and refuses new ones.
 */
async function startClosableProxy(relayPort: string, marker: string): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(relayPort), '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const watch = setInterval(() => {
    if (!existsSync(marker)) return;
    clearInterval(watch);
    server.close();
    for (const s of sockets) s.destroy();
  }, 20);
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      clearInterval(watch);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
