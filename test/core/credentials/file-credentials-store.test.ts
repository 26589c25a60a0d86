import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asDeviceId } from '../../../core/ids';
import { FileCredentialsStore } from '../../../core/node/credentials/file-credentials-store';
import type { DeviceCredentials } from '../../../core/ports/credentials-store';

const CREDS: DeviceCredentials = {
  serverUrl: 'https://sync.example.com',
  userId: 'u1',
  email: 'ann@example.com',
  deviceId: asDeviceId('d1'),
  deviceName: 'laptop',
  refreshToken: 'rt_secret',
  refreshTokenExpiresAt: 1_800_000_000_000,
};

describe('FileCredentialsStore', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'roo-sync-creds-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('loads null when nothing is stored, and what was saved after a save', async () => {
    const store = new FileCredentialsStore(join(dir, 'cfg', 'credentials.json'));
    assert.equal(await store.load(), null);
    await store.save(CREDS);
    assert.deepEqual(await store.load(), CREDS);
  });

  it('writes the file with mode 0600 in a 0700 folder, and leaves no temp file', async () => {
    const path = join(dir, 'cfg', 'credentials.json');
    const store = new FileCredentialsStore(path);
    await store.save(CREDS);
    await store.save({ ...CREDS, refreshToken: 'rt_next' });
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, 'cfg'))).mode & 0o777, 0o700);
    assert.deepEqual(await readdir(join(dir, 'cfg')), ['credentials.json']);
    assert.equal((await store.load())!.refreshToken, 'rt_next');
  });

  it('says CREDENTIALS_UNREADABLE for a damaged file, and leaves it for the user', async () => {
    const path = join(dir, 'credentials.json');
    await writeFile(path, '{"serverUrl": "x"');
    await assert.rejects(new FileCredentialsStore(path).load(), { code: 'CREDENTIALS_UNREADABLE' });
    await writeFile(path, '{"serverUrl": "x"}');
    await assert.rejects(new FileCredentialsStore(path).load(), { code: 'CREDENTIALS_UNREADABLE' });
    assert.equal(await readFile(path, 'utf8'), '{"serverUrl": "x"}');
  });

  it('clears idempotently', async () => {
    const store = new FileCredentialsStore(join(dir, 'credentials.json'));
    await store.save(CREDS);
    await store.clear();
    await store.clear();
    assert.equal(await store.load(), null);
  });

  it('runs exclusive sections one at a time, across two stores on one file', async () => {
    const path = join(dir, 'credentials.json');
    const one = new FileCredentialsStore(path);
    const two = new FileCredentialsStore(path);
    let inside = 0;
    let most = 0;
    const section = async () => {
      inside++;
      most = Math.max(most, inside);
      await new Promise((resolve) => setImmediate(resolve));
      inside--;
    };
    await Promise.all([one.exclusive(section), two.exclusive(section), one.exclusive(section), two.exclusive(section)]);
    assert.equal(most, 1);
  });
});
