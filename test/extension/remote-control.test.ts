/**
 * Remote control from the extension in a real extension host, against a real relay (PGlite),
 * with the account's other devices made on the Node side: a roo-sync CLI device (it syncs but
 * cannot run tasks) and core's SyncDevice registered as VS Code (it answers commands as the test
 * says). Send Task to Device and the view's device actions offer only devices that can run the
 * assistant and show how a sent task went.
 */
import * as assert from 'node:assert/strict';
import { MemoryCredentialsStore } from '../../core/client/memory-credentials-store';
import { signIn } from '../../core/client/sign-in';
import type { SyncDevice } from '../../core/node/device/sync-device';
import { createUser } from '../../server/accounts/users';
import { useDeviceFixture } from '../support/device-fixture';
import { PASSWORD, usePgliteRelay } from '../server/http/relay-fixture';
import { useExtensionHosts, type DrivenHost } from './support/host-session';
import { waitFor } from './support/wait';

const EMAIL = 'remote-control@example.com';

type CommandResult = { status?: string; result?: { taskId?: string }; error?: { code: string; message: string } };
type Ui = { deviceItems: { id: string; label: string; contextValue: string }[]; notices: { level: string; text: string }[] };

describe('roo-sync remote control in a real extension host (a CLI device and a VS Code device beside it)', function () {
  this.timeout(180_000);
  const relay = usePgliteRelay();
  const hosts = useExtensionHosts();
  const devices = useDeviceFixture(() => relay.relay());
  let host: DrivenHost;

  before(async function () {
    this.timeout(150_000);
    await createUser(relay.db(), { email: EMAIL, password: PASSWORD });
    host = await hosts.startDriven('device-1');
    await host.fixture('getCurrentTaskStack'); // the assistant creates its storage folder first, as Roo Code does
    const signedIn = await host.command<{ deviceId?: string }>('roo-sync.signIn', { serverUrl: relay.relay().url, email: EMAIL, password: PASSWORD, deviceName: 'device 1' });
    assert.ok(signedIn.deviceId, JSON.stringify(signedIn));
    await host.command('roo-sync.enableSync');
    await waitFor('device 1 to sync', async () => (await host.call<{ device: { state: string } | null }>('status')).device?.state === 'synced');
  });

  /** Registers a device of the account as the roo-sync CLI does (`roo-sync login`). */
  async function cliDevice(name: string): Promise<string> {
    const store = new MemoryCredentialsStore();
    await signIn({ serverUrl: relay.relay().url, email: EMAIL, password: PASSWORD, device: { name, kind: 'cli' } }, store);
    return (await store.load())!.deviceId;
  }

  /** A SyncDevice registered as VS Code, online; `answer` decides its response to each command. */
  async function vscodeDevice(name: string, answer?: (text: string) => { status: 'done'; result: unknown } | { status: 'failed'; error: { code: string; message: string } } | null): Promise<SyncDevice> {
    const dir = await devices.folder();
    await devices.signIn(dir, EMAIL, name);
    const device = await devices.open(dir);
    const client = await waitFor(`${name} online`, () => (device.client?.isOnline ? device.client : null));
    client.onCommand((delivery) => {
      const reply = answer?.(delivery.command.text ?? '');
      if (reply?.status === 'done') void client.sendCommandResponse(delivery.commandId, 'done', reply.result);
      else if (reply?.status === 'failed') void client.sendCommandResponse(delivery.commandId, 'failed', undefined, reply.error);
    });
    return device;
  }

  describe('with only a roo-sync CLI device beside it', () => {
    let cliId: string;
    before(async () => {
      cliId = await cliDevice('build box');
    });

    it('offers no device to Send Task to Device and says what remote control needs', async () => {
      const outcome = await host.command<CommandResult>('roo-sync.sendTaskToDevice');
      assert.equal(outcome.error?.code, 'REMOTE_NO_TASK_RUNNER', JSON.stringify(outcome));
      assert.match(outcome.error.message, /Remote control needs VS Code with roo-sync on the other computer; the roo-sync CLI syncs tasks but cannot run them/);
      const { notices } = await host.call<Ui>('ui');
      assert.ok(notices.some((n) => n.level === 'error' && n.text.includes('REMOTE_NO_TASK_RUNNER')), JSON.stringify(notices));
    });

    it('refuses to send a task to the CLI device by id, and queues nothing for it', async () => {
      const outcome = await host.command<CommandResult>('roo-sync.sendTaskToDevice', { deviceId: cliId, text: 'the CLI cannot run this', waitMs: 2_000 });
      assert.equal(outcome.error?.code, 'REMOTE_TARGET_CANNOT_RUN', JSON.stringify(outcome));
      assert.match(outcome.error.message, /build box is a roo-sync CLI device/);
      const { rows } = await relay.db().query<{ n: number }>('SELECT count(*)::int AS n FROM command_queue WHERE target_device_id = $1', [cliId]);
      assert.equal(rows[0]!.n, 0, 'no command was queued for the CLI device');
    });

    it("offers no Send Message / Approve / Deny / Cancel on the CLI device's row in the view, and refuses them", async () => {
      await host.command('roo-sync.refreshView');
      const { deviceItems } = await host.call<Ui>('ui');
      const row = deviceItems.find((item) => item.id === `device:${cliId}`);
      assert.ok(row, JSON.stringify(deviceItems));
      // package.json shows the four actions where the context value matches /^device-remote/.
      assert.doesNotMatch(row.contextValue, /^device-remote/);
      for (const action of ['roo-sync.device.approve', 'roo-sync.device.deny', 'roo-sync.device.cancel']) {
        const outcome = await host.command<CommandResult>(action, cliId);
        assert.equal(outcome.error?.code, 'REMOTE_TARGET_CANNOT_RUN', `${action}: ${JSON.stringify(outcome)}`);
      }
    });
  });

  describe('the view', () => {
    it('lists a device that signs in and comes online while the view is open, without a Refresh', async () => {
      const dir = await devices.folder();
      await devices.signIn(dir, EMAIL, 'new laptop');
      const device = await devices.open(dir);
      const client = await waitFor('new laptop online', () => (device.client?.isOnline ? device.client : null));
      client.updatePresence('online');
      const row = await waitFor('new laptop in the view of device 1', async () => (await host.call<{ view: { devices: { id: string; name: string; presence: string }[] } }>('status')).view.devices.find((d) => d.id === device.deviceId), 15_000);
      assert.equal(row.name, 'new laptop');
      assert.equal(row.presence, 'online');
    });
  });

  describe('with a VS Code device beside it', () => {
    it('shows that the task started on that device, with the task id', async () => {
      const laptop = await vscodeDevice('laptop', () => ({ status: 'done', result: { taskId: 'task-from-laptop' } }));
      const outcome = await host.command<CommandResult>('roo-sync.sendTaskToDevice', { deviceId: laptop.deviceId, text: 'run the tests' });
      assert.equal(outcome.status, 'done', JSON.stringify(outcome));
      const { notices } = await host.call<Ui>('ui');
      assert.deepEqual(notices.at(-1), { level: 'info', text: 'roo-sync: task started on laptop (task-from-laptop).' });
    });

    it("shows the target's coded failure", async () => {
      const desktop = await vscodeDevice('desktop', () => ({ status: 'failed', error: { code: 'ASSISTANT_NOT_INSTALLED', message: 'no assistant here' } }));
      const outcome = await host.command<CommandResult>('roo-sync.sendTaskToDevice', { deviceId: desktop.deviceId, text: 'run the tests' });
      assert.equal(outcome.error?.code, 'ASSISTANT_NOT_INSTALLED', JSON.stringify(outcome));
      const { notices } = await host.call<Ui>('ui');
      assert.deepEqual(notices.at(-1), { level: 'error', text: 'roo-sync: ASSISTANT_NOT_INSTALLED: no assistant here', items: ['Show Log'] });
    });

    it('says when the device has the task but no result yet (delivered), not that it stays queued', async () => {
      const silent = await vscodeDevice('quiet box');
      const outcome = await host.command<CommandResult>('roo-sync.sendTaskToDevice', { deviceId: silent.deviceId, text: 'run the tests', waitMs: 1_000 });
      assert.equal(outcome.status, 'delivered', JSON.stringify(outcome));
      const { notices } = await host.call<Ui>('ui');
      assert.deepEqual(notices.at(-1), { level: 'info', text: 'roo-sync: quiet box has the task and is working on it; no result within 1 s.' });
    });

    it('says when an offline device has not answered in time and that the task stays queued', async () => {
      const dir = await devices.folder();
      await devices.signIn(dir, EMAIL, 'sleeping desktop');
      const sleeping = (await dir.credentials.load())!.deviceId;
      const outcome = await host.command<CommandResult>('roo-sync.sendTaskToDevice', { deviceId: sleeping, text: 'run the tests', waitMs: 1_000 });
      assert.equal(outcome.status, 'queued', JSON.stringify(outcome));
      const { notices } = await host.call<Ui>('ui');
      assert.equal(notices.at(-1)?.level, 'warning');
      assert.match(notices.at(-1)!.text, /no answer from sleeping desktop within 1 s; the task stays queued and starts when sleeping desktop is online/);
    });
  });
});
