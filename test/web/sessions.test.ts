/**
 * The page's session in the browser: it survives a reload through the HttpOnly cookie (which
 * page script cannot read), logout revokes the web device, and a second browser context of
 * another user sees none of the first user's tasks, not even by URL.
 */
import assert from 'node:assert/strict';
import { api, PASSWORD } from '../server/http/relay-fixture';
import { useWebFixture } from './web-fixture';

describe('web page: sessions', function () {
  this.timeout(60_000);
  const web = useWebFixture();

  it('stays signed in across a reload through the HttpOnly cookie, which page script cannot read', async () => {
    const email = await web.user('reload');
    const device = await web.device(email, 'laptop');
    await device.pushTask({ taskId: 'r1', meta: { id: 'r1', ts: Date.now(), task: 'Still here after a reload' } });
    const page = await web.signedIn(email);
    const cookies = await page.context().cookies();
    const refresh = cookies.find((c) => c.name === 'roo_sync_web_refresh');
    assert.ok(refresh, 'the refresh cookie is set');
    assert.equal(refresh.httpOnly, true);
    assert.equal(refresh.sameSite, 'Strict');
    assert.equal(refresh.path, '/v1/auth/web');
    assert.equal(await page.evaluate(() => (globalThis as unknown as { document: { cookie: string } }).document.cookie), '');
    const stored = await page.evaluate(() => {
      const g = globalThis as unknown as { localStorage: { length: number }; sessionStorage: { length: number } };
      return g.localStorage.length + g.sessionStorage.length;
    });
    assert.equal(stored, 0, 'no token in web storage');
    await page.reload();
    await page.locator('.task-row .title', { hasText: 'Still here after a reload' }).waitFor();
  });

  it('logout revokes the web device: the device list shows it revoked and the page is back at sign-in', async () => {
    const email = await web.user('logout');
    await web.device(email, 'laptop');
    const page = await web.signedIn(email);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    const login = await api(web.relay(), 'POST', '/v1/auth/login', { body: { email, password: PASSWORD, device: { name: 'check', kind: 'cli' } } });
    const devices = (await api(web.relay(), 'GET', '/v1/devices', { token: login.body.accessToken })).body.devices as Array<{ kind: string; revokedAt: string | null }>;
    const webDevices = devices.filter((d) => d.kind === 'web');
    assert.equal(webDevices.length, 1);
    assert.notEqual(webDevices[0]!.revokedAt, null);
    assert.ok(devices.some((d) => d.kind === 'vscode' && d.revokedAt === null), 'the other devices are untouched');
    await page.reload();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
  });

  it('returns to sign-in when another device revokes this browser', async () => {
    const email = await web.user('revoked');
    await web.device(email, 'laptop');
    const page = await web.signedIn(email);
    await page.locator('.live-online').waitFor();
    const admin = await api(web.relay(), 'POST', '/v1/auth/login', { body: { email, password: PASSWORD, device: { name: 'admin', kind: 'cli' } } });
    const devices = (await api(web.relay(), 'GET', '/v1/devices', { token: admin.body.accessToken })).body.devices as Array<{ id: string; kind: string }>;
    const browser = devices.find((d) => d.kind === 'web')!;
    assert.equal((await api(web.relay(), 'DELETE', `/v1/devices/${browser.id}`, { token: admin.body.accessToken })).status, 204);
    await page.getByRole('button', { name: 'Sign in' }).waitFor({ timeout: 10_000 });
    assert.match((await page.locator('.notice').textContent()) ?? '', /session ended/);
  });

  it("a second browser context of another user sees none of the first user's tasks, not even by URL", async () => {
    const ann = await web.user('ann');
    const bob = await web.user('bob');
    const annDevice = await web.device(ann, 'ann laptop');
    await annDevice.pushTask({ taskId: 'secret', meta: { id: 'secret', ts: Date.now(), task: "Ann's secret task" }, messages: [{ ts: 1, type: 'say', say: 'text', text: 'private' }] });
    const annPage = await web.signedIn(ann);
    await annPage.locator('.task-row .title', { hasText: "Ann's secret task" }).waitFor();

    const bobPage = await web.signedIn(bob);
    assert.equal(await bobPage.getByRole('status').filter({ hasText: /tasks?$/ }).textContent(), '0 tasks');
    await bobPage.goto(`${web.relay().url}/#/task/roo-code/secret`);
    await bobPage.getByRole('alert').filter({ hasText: 'TASK_NOT_FOUND' }).waitFor();
    assert.equal(await bobPage.locator('.messages .message').count(), 0);
    await bobPage.getByRole('link', { name: 'Devices' }).click();
    await bobPage.locator('.device').first().waitFor();
    assert.equal(await bobPage.locator('.device', { hasText: 'ann laptop' }).count(), 0);
    // A task Ann's device pushes now does not reach Bob's live page either.
    await annDevice.pushTask({ taskId: 'secret2', meta: { id: 'secret2', ts: Date.now(), task: 'Another secret' } });
    await annPage.locator('.task-row .title', { hasText: 'Another secret' }).waitFor();
    await bobPage.getByRole('link', { name: 'Tasks' }).click();
    await bobPage.getByRole('status').filter({ hasText: /tasks?$/ }).waitFor();
    assert.equal(await bobPage.locator('.task-row').count(), 0);
  });
});
