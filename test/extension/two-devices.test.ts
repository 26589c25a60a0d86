/**
 * Two code-server instances with separate user-data folders are two devices of one user, each
 * with roo-sync and the fixture assistant, against a real relay (PGlite) on 127.0.0.1. Tasks
 * the fixture writes on one appear on the other's disk in Roo Code's format and in the
 * fixture's history; a device that was off catches up; both appending to one task at once
 * loses nothing.
 */
import * as assert from 'node:assert/strict';
import { join } from 'node:path';
import { createUser } from '../../server/accounts/users';
import { PASSWORD, usePgliteRelay } from '../server/http/relay-fixture';
import { useExtensionHosts, type DrivenHost } from './support/host-session';
import { readJsonOrNull, waitFor } from './support/wait';

interface Message {
  ts: number;
  type: string;
  say?: string;
  text?: string;
}

const EMAIL = 'two-devices@example.com';

function uiPath(host: DrivenHost, taskId: string): string {
  return join(host.rooStore, 'tasks', taskId, 'ui_messages.json');
}

/** Texts of every ui message of every task in `host`'s store. */
async function allTexts(host: DrivenHost): Promise<Set<string>> {
  const index = await readJsonOrNull<{ entries: { id: string }[] }>(join(host.rooStore, 'tasks', '_index.json'));
  const texts = new Set<string>();
  for (const entry of index?.entries ?? []) {
    for (const m of (await readJsonOrNull<Message[]>(uiPath(host, entry.id))) ?? []) if (m.text) texts.add(m.text);
  }
  return texts;
}

async function sameMessages(from: DrivenHost, to: DrivenHost, taskId: string): Promise<Message[] | null> {
  const a = await readJsonOrNull<Message[]>(uiPath(from, taskId));
  const b = await readJsonOrNull<Message[]>(uiPath(to, taskId));
  return a && b && JSON.stringify(a) === JSON.stringify(b) ? b : null;
}

describe('roo-sync on two devices (two real extension hosts, one relay)', function () {
  this.timeout(240_000);
  const relay = usePgliteRelay();
  const hosts = useExtensionHosts();
  let one: DrivenHost;
  let two: DrivenHost;

  before(async function () {
    this.timeout(180_000);
    await createUser(relay.db(), { email: EMAIL, password: PASSWORD });
    [one, two] = await Promise.all([hosts.startDriven('device-1'), hosts.startDriven('device-2')]);
    for (const [host, name] of [[one, 'device 1'], [two, 'device 2']] as const) {
      // The assistant starts first (it creates its storage folder), as Roo Code does.
      await host.fixture('getCurrentTaskStack');
      const signedIn = await host.command<{ deviceId?: string; error?: unknown }>('roo-sync.signIn', { serverUrl: relay.relay().url, email: EMAIL, password: PASSWORD, deviceName: name });
      assert.ok(signedIn.deviceId, JSON.stringify(signedIn));
      await host.command('roo-sync.enableSync');
      await waitFor(`${name} to sync`, async () => (await host.call<{ device: { state: string } | null }>('status')).device?.state === 'synced');
    }
  });

  it('shows a task the fixture writes on device 1 on device 2: same files, in the index and the fixture history', async () => {
    const taskId = await one.fixture<string>('startNewTask', { text: 'a task from device 1' });
    const messages = await waitFor('the task on device 2', () => sameMessages(one, two, taskId));
    assert.equal(messages[0]!.text, 'a task from device 1');
    // history_item.json and _index.json are written after the messages.
    const item = await waitFor('the task in the fixture history on device 2', async () => (await two.fixture<{ id: string; task: string }[]>('history')).find((h) => h.id === taskId));
    assert.equal(item.task, 'a task from device 1');
    await waitFor('the task in device 2 _index.json', async () => (await readJsonOrNull<{ entries: { id: string }[] }>(join(two.rooStore, 'tasks', '_index.json')))?.entries.some((e) => e.id === taskId));
    const status = await two.call<{ bar: { text: string } }>('status');
    assert.match(status.bar.text, /roo-sync: (synced|syncing)/);
  });

  it('catches up a device that was off: both sides worked meanwhile, both end with everything', async () => {
    await two.command('roo-sync.disableSync');
    assert.equal((await two.call<{ kind: string }>('status')).kind, 'off');
    const fromOne = await one.fixture<string>('startNewTask', { text: 'written while device 2 was off' });
    await one.fixture('sendMessage', 'and a follow-up');
    const fromTwo = await two.fixture<string>('startNewTask', { text: 'written on device 2 while it was off' });
    await one.call('idle');

    await two.command('roo-sync.enableSync');
    await waitFor('device 2 to catch up', () => sameMessages(one, two, fromOne));
    await waitFor('device 1 to get what device 2 wrote offline', () => sameMessages(two, one, fromTwo));
    const texts = await allTexts(two);
    assert.ok(texts.has('and a follow-up'));
  });

  it('loses nothing when both devices append to one task at once', async () => {
    const taskId = await one.fixture<string>('startNewTask', { text: 'a task both devices append to' });
    await waitFor('the task on device 2', () => sameMessages(one, two, taskId));
    await two.fixture('resumeTask', taskId);
    const appends: Promise<unknown>[] = [];
    for (let i = 1; i <= 5; i++) {
      appends.push(one.fixture('appendText', `device 1 append ${i}`), two.fixture('appendText', `device 2 append ${i}`));
    }
    await Promise.all(appends);
    const wanted = [1, 2, 3, 4, 5].flatMap((i) => [`device 1 append ${i}`, `device 2 append ${i}`]);
    for (const host of [one, two]) {
      await waitFor(`every append on ${host.name}`, async () => {
        const texts = await allTexts(host);
        return wanted.every((t) => texts.has(t));
      });
    }
  });
});
