/**
 * What roo-sync tells the user in a real extension host against a real relay (PGlite): each
 * command's result as a notification (Sync Now, Sign In, Sign Out, Migrate Local Tasks, Show
 * Sync Status), error notifications with buttons, the context keys the palette's and the view's
 * `when` clauses read (ui-state.test.ts checks what package.json shows for them), a hand-edited
 * `rooSync.serverUrl`, and a running task shown by its title.
 */
import * as assert from 'node:assert/strict';
import { createUser } from '../../server/accounts/users';
import { useDeviceFixture } from '../support/device-fixture';
import { PASSWORD, startTestRelay, usePgliteRelay } from '../server/http/relay-fixture';
import { useExtensionHosts, type DrivenHost } from './support/host-session';
import { waitFor } from './support/wait';
import type { TaskId } from '../../core/ids';

const EMAIL = 'command-feedback@example.com';

type Notice = { level: string; text: string; items?: string[] };
type Ui = { notices: Notice[]; contextKeys: Record<string, unknown>; viewRoots: string[] };
type Status = { kind: string; device: { state: string } | null; view: { devices: { id: string; presence: string }[] } };

describe('roo-sync command feedback in a real extension host', function () {
  this.timeout(180_000);
  const relay = usePgliteRelay();
  const hosts = useExtensionHosts();
  const devices = useDeviceFixture(() => relay.relay());
  let host: DrivenHost;
  let taskId: string;

  before(async function () {
    this.timeout(150_000);
    await createUser(relay.db(), { email: EMAIL, password: PASSWORD });
    host = await hosts.startDriven('feedback');
    await host.fixture('getCurrentTaskStack'); // the assistant creates its storage folder first, as Roo Code does
  });

  const ui = () => host.call<Ui>('ui');
  /** The first notice after `seen` of them that `match` accepts. */
  const noticeAfter = (seen: number, what: string, match: (n: Notice) => boolean) => waitFor(what, async () => (await ui()).notices.slice(seen).find(match), 15_000);

  it('leaves the view to its welcome content and sets the context keys while off and signed out', async () => {
    const state = await waitFor('the context keys', async () => ((await ui()).contextKeys['rooSync.state'] ? ui() : null));
    assert.deepEqual(state.contextKeys, { 'rooSync.state': 'off', 'rooSync.enabled': false, 'rooSync.signedIn': false });
    assert.deepEqual(state.viewRoots, [], 'no row: VS Code shows the viewsWelcome content (Sign In, Enable Sync)');
  });

  it('answers Sync Now while signed out with AUTH_SIGNED_OUT and the buttons Sign In and Show Log', async () => {
    await host.command('roo-sync.enableSync');
    const seen = (await ui()).notices.length;
    const result = await host.command<{ error?: { code: string } }>('roo-sync.syncNow');
    assert.equal(result.error?.code, 'AUTH_SIGNED_OUT', JSON.stringify(result));
    const notice = await noticeAfter(seen, 'the error notice', (n) => n.level === 'error');
    assert.match(notice.text, /^roo-sync: AUTH_SIGNED_OUT: /);
    assert.deepEqual(notice.items, ['Sign In', 'Show Log']);
    const { contextKeys, viewRoots } = await ui();
    assert.deepEqual(contextKeys, { 'rooSync.state': 'signedOut', 'rooSync.enabled': true, 'rooSync.signedIn': false });
    assert.deepEqual(viewRoots, []);
  });

  it('says a sign-in while sync is on signed in and syncs', async () => {
    const seen = (await ui()).notices.length;
    const url = relay.relay().url;
    const result = await host.command<{ deviceId?: string }>('roo-sync.signIn', { serverUrl: url, email: EMAIL, password: PASSWORD, deviceName: 'feedback desk' });
    assert.ok(result.deviceId, JSON.stringify(result));
    const notice = await noticeAfter(seen, 'the sign-in notice', (n) => n.text.startsWith('roo-sync: signed in'));
    assert.deepEqual(notice, { level: 'info', text: `roo-sync: signed in to ${url} as ${EMAIL}; syncing this computer.` });
    await waitFor('the device to sync', async () => (await host.call<Status>('status')).device?.state === 'synced');
    const { contextKeys } = await waitFor('the state syncing', async () => ((await ui()).contextKeys['rooSync.state'] === 'syncing' ? ui() : null));
    assert.deepEqual(contextKeys, { 'rooSync.state': 'syncing', 'rooSync.enabled': true, 'rooSync.signedIn': true });
  });

  it('says what Sync Now sent and received', async () => {
    taskId = await host.fixture<string>('startNewTask', { text: 'Refactor the parser into two passes' });
    const seen = (await ui()).notices.length;
    const result = await host.command<{ sent: number; received: number; error?: unknown }>('roo-sync.syncNow');
    assert.equal(result.error, undefined, JSON.stringify(result));
    const notice = await noticeAfter(seen, 'the Sync Now notice', (n) => n.text.startsWith('roo-sync: synced'));
    const changes = (n: number) => `${n} change${n === 1 ? '' : 's'}`;
    assert.deepEqual(notice, { level: 'info', text: `roo-sync: synced: sent ${changes(result.sent)}, received ${changes(result.received)}.` });
  });

  it('says a migration found everything already on the relay (upToDate)', async () => {
    await host.call('idle');
    const seen = (await ui()).notices.length;
    const result = await host.command<{ tasks: number; upToDate: boolean }>('roo-sync.migrateLocalTasks');
    assert.equal(result.upToDate, true, JSON.stringify(result));
    const notice = await noticeAfter(seen, 'the migration notice', (n) => n.text.includes('migration'));
    assert.deepEqual(notice, { level: 'info', text: `roo-sync: migration done: the relay already had all ${result.tasks} task${result.tasks === 1 ? '' : 's'}; nothing uploaded.` });
  });

  it('shows the account, relay, stores, queue and last sync in Show Sync Status', async () => {
    const seen = (await ui()).notices.length;
    const result = await host.command<{ text: string; details: string[] }>('roo-sync.showStatus');
    assert.equal(result.text, 'synced');
    const [account, relayUrl, stores, queued, lastSync] = result.details;
    assert.equal(account, `signed in as ${EMAIL}`);
    assert.equal(relayUrl, `relay ${relay.relay().url}`);
    assert.equal(stores, 'stores: Roo Code');
    assert.equal(queued, '0 queued');
    assert.match(lastSync!, /^last sync \d\d:\d\d:\d\d \(\d+ s ago\)$/);
    const notice = await noticeAfter(seen, 'the status notice', (n) => n.text.startsWith('roo-sync: synced'));
    assert.equal(notice.text, `roo-sync: synced. ${result.details.join('; ')}.`);
  });

  it('shows the title of a task another device runs when the task is here, else its id', async () => {
    const dir = await devices.folder();
    await devices.signIn(dir, EMAIL, 'laptop');
    const laptop = await devices.open(dir);
    const client = await waitFor('the laptop online', () => (laptop.client?.isOnline ? laptop.client : null));
    const presenceOf = async () => (await host.call<Status>('status')).view.devices.find((d) => d.id === laptop.deviceId)?.presence;
    client.updatePresence('busy', taskId as TaskId);
    assert.equal(await waitFor('the title in the view', async () => ((await presenceOf())?.includes('Refactor') ? presenceOf() : null), 15_000), 'running "Refactor the parser into two passes"');
    const unknown = '0190a1b2-0000-7000-8000-00000000beef';
    client.updatePresence('busy', unknown as TaskId);
    assert.equal(await waitFor('the unknown task in the view', async () => ((await presenceOf())?.includes(unknown) ? presenceOf() : null), 15_000), `running task ${unknown}`);
  });

  it('says so and offers a sign-in there when rooSync.serverUrl is edited to another relay, and keeps syncing', async () => {
    const seen = (await ui()).notices.length;
    const other = 'http://127.0.0.1:9';
    await host.call('setting', 'rooSync.serverUrl', other);
    const notice = await noticeAfter(seen, 'the server URL notice', (n) => n.text.includes('rooSync.serverUrl'));
    assert.equal(notice.level, 'warning');
    assert.equal(notice.text, `roo-sync: rooSync.serverUrl is now ${other}, but this device is signed in to ${relay.relay().url} and keeps syncing there. Sign in to ${other} to switch.`);
    assert.deepEqual(notice.items, [`Sign In to ${other}`]);
    assert.equal((await host.call<{ serverUrl: string }>('credentials')).serverUrl, relay.relay().url);
    assert.equal((await host.call<Status>('status')).device?.state, 'synced');
    await host.call('setting', 'rooSync.serverUrl', relay.relay().url);
  });

  it('confirms Sign Out', async () => {
    const seen = (await ui()).notices.length;
    assert.deepEqual(await host.command('roo-sync.signOut'), { signedIn: true, revoked: true });
    const notice = await noticeAfter(seen, 'the sign-out notice', (n) => n.text.startsWith('roo-sync: signed out'));
    assert.deepEqual(notice, { level: 'info', text: 'roo-sync: signed out; this computer is no longer one of your devices. Sync stops until you sign in again.' });
    assert.deepEqual((await ui()).contextKeys, { 'rooSync.state': 'signedOut', 'rooSync.enabled': true, 'rooSync.signedIn': false });
  });

  it('names the web page and the CLI command when the relay could not be told of a Sign Out', async () => {
    await host.command('roo-sync.disableSync');
    const gone = await startTestRelay(relay.db());
    const signedIn = await host.command<{ deviceId?: string }>('roo-sync.signIn', { serverUrl: gone.url, email: EMAIL, password: PASSWORD, deviceName: 'offline desk' });
    assert.ok(signedIn.deviceId, JSON.stringify(signedIn));
    await gone.close();
    const seen = (await ui()).notices.length;
    const result = await host.command<{ signedIn: boolean; revoked: boolean }>('roo-sync.signOut');
    assert.deepEqual(result, { signedIn: true, revoked: false });
    const notice = await noticeAfter(seen, 'the offline sign-out warning', (n) => n.level === 'warning');
    assert.match(notice.text, /^roo-sync: signed out here, but the relay could not be told \([A-Z_]+\), so "offline desk" stays on your account\. /);
    assert.match(notice.text, /the web page's Devices view \(Sign out\) or with `roo-sync devices sign-out "offline desk"`/);
  });
});
