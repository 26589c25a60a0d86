/**
 * Two code-server instances with separate user-data folders are two devices of one user, each
 * with roo-sync and the fixture assistant, against a real relay (PGlite) on 127.0.0.1. Tasks
 * the fixture writes on one appear on the other's disk in Roo Code's format and in the
 * fixture's history; a device that was off catches up; both appending to one task at once
 * loses nothing.
 */
import * as assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createUser } from '../../server/accounts/users';
import { PASSWORD, usePgliteRelay } from '../server/http/relay-fixture';
import { writeJsonLikeRoo } from './fixture-assistant/task-files';
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
  /** Device 3: roo-sync without an assistant (set by the ASSISTANT_NOT_INSTALLED test). */
  let bare: DrivenHost;
  const deviceIds = new Map<DrivenHost, string>();

  async function signInAndSync(host: DrivenHost, name: string): Promise<void> {
    if (await host.call('hasFixture')) await host.fixture('getCurrentTaskStack'); // the assistant starts first and creates its storage folder, as Roo Code does
    const signedIn = await host.command<{ deviceId?: string; error?: unknown }>('roo-sync.signIn', { serverUrl: relay.relay().url, email: EMAIL, password: PASSWORD, deviceName: name });
    assert.ok(signedIn.deviceId, JSON.stringify(signedIn));
    deviceIds.set(host, signedIn.deviceId);
    await host.command('roo-sync.enableSync');
    await waitFor(`${name} to sync`, async () => (await host.call<{ device: { state: string } | null }>('status')).device?.state === 'synced');
  }

  before(async function () {
    this.timeout(180_000);
    await createUser(relay.db(), { email: EMAIL, password: PASSWORD });
    [one, two] = await Promise.all([hosts.startDriven('device-1'), hosts.startDriven('device-2')]);
    await signInAndSync(one, 'device 1');
    await signInAndSync(two, 'device 2');
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
    // The messages land first, history_item.json and _index.json after them.
    await waitFor("the follow-up in device 2's history", async () => (await allTexts(two)).has('and a follow-up'));
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
      }).catch(async (error: Error) => {
        const texts = await allTexts(host);
        const st = await host.call<{ device: unknown }>('status');
        const now = await host.command('roo-sync.syncNow');
        const after = await allTexts(host);
        const other = await allTexts(host === one ? two : one);
        const mem = await (host === one ? two : one).fixture<{ text?: string }[]>('readMessages', taskId);
        throw new Error(`${error.message}: other device disk has them all: ${wanted.every((t) => other.has(t))}; other disk ui count ${mem.length}: missing ${wanted.filter((t) => !texts.has(t)).join(', ')}; status ${JSON.stringify(st.device)}; syncNow ${JSON.stringify(now)}; missing after ${wanted.filter((t) => !after.has(t)).join(', ')}`);
      });
    }
  });

  it('starts a task on device 1 through the fixture API from a command device 2 sends, and its messages reach device 2', async () => {
    const outcome = await two.command<{ status: string; result?: { taskId?: string }; error?: unknown }>('roo-sync.sendTaskToDevice', { deviceId: deviceIds.get(one), text: 'a task sent from device 2' });
    assert.equal(outcome.status, 'done', JSON.stringify(outcome));
    const taskId = outcome.result?.taskId;
    assert.ok(taskId);
    const calls = await one.fixture<{ method: string; args: { text?: string }[] }[]>('calls');
    assert.deepEqual(calls.filter((c) => c.method === 'startNewTask').at(-1)?.args[0]?.text, 'a task sent from device 2');
    const messages = await waitFor('the remotely started task on device 2', () => sameMessages(one, two, taskId));
    assert.equal(messages.find((m) => m.say === 'text' && m.text?.startsWith('Fixture reply'))?.text, 'Fixture reply to: a task sent from device 2');
    // Device 1 says it is running that task; device 2's view shows it by its title (the task is on device 2 now).
    const view = await waitFor('device 1 running the task in device 2 view', async () => {
      const status = await two.call<{ view: { devices: { id: string; presence: string }[] } }>('status');
      const device = status.view.devices.find((d) => d.id === deviceIds.get(one));
      return device?.presence === 'running "a task sent from device 2"' ? status.view : null;
    });
    assert.ok(view.devices.some((d) => d.id === deviceIds.get(two)));
  });

  it('answers a command for a device without an assistant with ASSISTANT_NOT_INSTALLED', async () => {
    bare = await hosts.startDriven('device-3', { withFixture: false });
    // Cline's task folder is there (the extension was uninstalled, its history kept): the device
    // syncs it, so it is online for commands, but no assistant can run one.
    const { mkdir } = await import('node:fs/promises');
    await mkdir(join(bare.server.userDataDir, 'User', 'globalStorage', 'saoudrizwan.claude-dev', 'tasks'), { recursive: true });
    await signInAndSync(bare, 'device 3 (no assistant)');
    const outcome = await two.command<{ error?: { code: string } }>('roo-sync.sendTaskToDevice', { deviceId: deviceIds.get(bare), text: 'nobody can run this' });
    assert.equal(outcome.error?.code, 'ASSISTANT_NOT_INSTALLED', JSON.stringify(outcome));
  });

  it('picks up an assistant store folder that appears while sync runs (an assistant installed later), with no restart', async () => {
    const store = join(bare.server.userDataDir, 'User', 'globalStorage', 'rooveterinaryinc.roo-cline');
    const before = await bare.call<{ device: { stores: { basePath: string }[] } | null }>('status');
    assert.equal(before.device?.stores.some((s) => s.basePath === store), false, 'no Roo Code store yet');
    // Roo Code is installed on device 3 and writes its first task (its folder appears only now).
    const taskId = '0199a1b2-c3d4-7e5f-8a9b-00000000c0de';
    const ts = Date.now();
    const dir = join(store, 'tasks', taskId);
    await writeJsonLikeRoo(join(dir, 'api_conversation_history.json'), [{ role: 'user', content: 'installed later', ts }]);
    await writeJsonLikeRoo(join(dir, 'ui_messages.json'), [{ ts, type: 'say', say: 'text', text: 'a task from an assistant installed later' }]);
    await writeJsonLikeRoo(join(dir, 'history_item.json'), { id: taskId, number: 1, ts, task: 'a task from an assistant installed later', tokensIn: 0, tokensOut: 0, totalCost: 0 });
    await waitFor('device 3 to sync the new store', async () => (await bare.call<{ device: { stores: { basePath: string; role: string }[] } | null }>('status')).device?.stores.some((s) => s.basePath === store && s.role === 'syncing'));
    const messages = await waitFor('the task on device 2', async () => (await readJsonOrNull<Message[]>(uiPath(two, taskId))) ?? undefined);
    assert.equal(messages[0]!.text, 'a task from an assistant installed later');
  });

  it('keeps a conflict copy for overlapping edits of a workspace file, lists it in the view, and Accept Remote resolves it', async () => {
    for (const host of [one, two]) {
      await host.call('setting', 'rooSync.workspaceSync.enabled', true);
      // The device restarts with the workspace folder; wait until it watches it.
      await waitFor(`${host.name} to sync its workspace`, async () => {
        const status = await host.call<{ workspaces: string[]; device: { state: string } | null }>('status');
        return status.workspaces.includes('workspace') && status.device?.state === 'synced';
      });
    }
    const file = (host: DrivenHost) => join(host.server.workspace, 'notes.txt');
    await writeFile(file(one), 'line 1\nline 2\nline 3\n');
    await waitFor('notes.txt on device 2', async () => (await readFile(file(two), 'utf8').catch(() => '')) === 'line 1\nline 2\nline 3\n');

    await two.command('roo-sync.disableSync');
    await writeFile(file(one), 'line 1\nline 2 from device 1\nline 3\n');
    await writeFile(file(two), 'line 1\nline 2 from device 2\nline 3\n');
    await one.call('idle');
    await two.command('roo-sync.enableSync');

    const { readdir } = await import('node:fs/promises');
    // Live: no Sync Now; the conflict is produced and shown by the live sync alone.
    const conflict = await waitFor('a conflict in device 2 view', async () => (await two.call<{ view: { conflicts: { id: string; path: string }[] } }>('status')).view.conflicts[0]);
    assert.equal(conflict.path, 'notes.txt');
    assert.equal(await readFile(file(two), 'utf8'), 'line 1\nline 2 from device 2\nline 3\n', 'the local version stays');
    const copies = (await readdir(two.server.workspace)).filter((n) => n.includes('.sync-conflict-'));
    assert.equal(copies.length, 1);
    assert.equal(await readFile(join(two.server.workspace, copies[0]!), 'utf8'), 'line 1\nline 2 from device 1\nline 3\n');
    const status = await two.call<{ bar: { text: string } }>('status');
    assert.match(status.bar.text, /1 conflict/);

    await two.command('roo-sync.conflict.acceptRemote', conflict.id);
    assert.equal(await readFile(file(two), 'utf8'), 'line 1\nline 2 from device 1\nline 3\n');
    assert.deepEqual((await readdir(two.server.workspace)).filter((n) => n.includes('.sync-conflict-')), []);
    await waitFor('no conflict left in device 2 view', async () => (await two.call<{ view: { conflicts: unknown[] } }>('status')).view.conflicts.length === 0);
    // Device 2 had pushed its kept version; the accepted one now reaches device 1 again.
    await waitFor('device 1 to hold the accepted version', async () => (await readFile(file(one), 'utf8')) === 'line 1\nline 2 from device 1\nline 3\n');
  });

  it('passes rooSync.compressionThreshold to the device: a change restarts it with that threshold, and frames compress from it on', async () => {
    type Wire = { codec: string; compressThreshold: number; stats: { bodyBytesEncoded: number; wireBytesEncoded: number } } | null;
    const wireOf = async (host: DrivenHost, threshold: number) =>
      waitFor(`${host.name} to sync with threshold ${threshold}`, async () => {
        const status = await host.call<{ device: { state: string } | null }>('status');
        const wire = await host.call<Wire>('wire');
        return status.device?.state === 'synced' && wire?.compressThreshold === threshold ? wire : null;
      });
    await one.call('setting', 'rooSync.compressionThreshold', 100_000);
    const raw = await wireOf(one, 100_000);
    const taskId = await one.fixture<string>('startNewTask', { text: 'compressed or not' });
    await one.fixture('appendText', 'lorem ipsum '.repeat(400));
    await waitFor('the task on device 2', () => sameMessages(one, two, taskId));
    const afterRaw = (await one.call<Wire>('wire'))!.stats;
    const rawBody = afterRaw.bodyBytesEncoded - raw.stats.bodyBytesEncoded;
    const rawWire = afterRaw.wireBytesEncoded - raw.stats.wireBytesEncoded;
    assert.ok(rawBody > 4800 && rawWire > rawBody, `under a 100 KB threshold nothing is compressed: ${rawBody} body bytes, ${rawWire} on the wire`);

    await one.call('setting', 'rooSync.compressionThreshold', 0);
    const zero = await wireOf(one, 0);
    await one.fixture('appendText', 'lorem ipsum '.repeat(400));
    await waitFor('the append on device 2', () => sameMessages(one, two, taskId));
    const afterZero = (await one.call<Wire>('wire'))!.stats;
    const zeroBody = afterZero.bodyBytesEncoded - zero.stats.bodyBytesEncoded;
    const zeroWire = afterZero.wireBytesEncoded - zero.stats.wireBytesEncoded;
    assert.ok(zeroBody > 4800 && zeroWire < zeroBody / 2, `at 0 every frame is compressed: ${zeroBody} body bytes, ${zeroWire} on the wire`);
    await one.call('setting', 'rooSync.compressionThreshold', null);
    await waitFor('device 1 back on the default threshold', async () => ((await one.call<Wire>('wire'))?.compressThreshold ?? 0) > 0);
  });

  it('runs Migrate Local Tasks in the window (core migration in the device worker) over every local task', async () => {
    await one.fixture('startNewTask', { text: 'a local task to migrate' });
    await one.call('idle');
    const onDisk = (await readJsonOrNull<{ entries: { id: string }[] }>(join(one.rooStore, 'tasks', '_index.json')))?.entries.length ?? 0;
    const result = await one.command<{ tasks: number; queued: number; aborted: boolean; error?: unknown }>('roo-sync.migrateLocalTasks');
    assert.equal(result.error, undefined, JSON.stringify(result));
    assert.equal(result.aborted, false);
    assert.ok(result.tasks >= onDisk && onDisk > 0, `${result.tasks} tasks migrated, ${onDisk} in the index`);
  });
});
