/**
 * SyncDevice end to end: real devices on disk (FsTaskStore, the real watcher, the durable
 * outbox, sync state and entry cache) against the real relay, run on PGlite with the in-process
 * cache (sync-device.pglite.test.ts) and on PostgreSQL + Redis (sync-device.postgres.test.ts).
 * The assistant is played by `assistantWrite`: whole-file rewrites through temp + rename.
 */
import assert from 'node:assert/strict';
import { cp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeStatus, type DeviceStatus } from '../../../core/device/device-status';
import { deviceFolder } from '../../../core/node/device/device-folder';
import type { SyncDevice } from '../../../core/node/device/sync-device';
import { TaskStoreWatcher } from '../../../core/node/watch/task-store-watcher';
import type { Database } from '../../../server/db/database';
import { assistantWrite, smallTask, writeFileLikeAssistant, uiOnDisk, useDeviceFixture, waitForTexts, type DeviceDir } from '../../support/device-fixture';
import { countEntriesContaining } from '../../support/read-model-entries';
import { waitFor } from '../../support/redis';
import { useSuiteRelay } from '../../server/http/relay-fixture';

export interface SyncDeviceSuiteSetup {
  db(): Database;
  flags(): Record<string, unknown>;
}

const EMAIL = 'ann@example.com';
const TASK = '0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';

/** A fetch to which the relay's read model (the messages route) answers 503, as with PROJECTIONS=off. */
function withoutReadModel(): (url: string, init?: RequestInit) => Promise<Response> {
  return (url, init) =>
    url.includes('/messages')
      ? Promise.resolve(new Response(JSON.stringify({ error: { code: 'PROJECTIONS_DISABLED', message: 'off' } }), { status: 503 }))
      : fetch(url, init);
}

/** Changes the relay accepted from `deviceId`, by kind. */
async function changesBy(db: Database, deviceId: string): Promise<Record<string, number>> {
  const { rows } = await db.query<{ change_type: string; n: string | number }>(
    'SELECT change_type, count(*) AS n FROM sync_operations WHERE device_id = $1 GROUP BY change_type',
    [deviceId],
  );
  return Object.fromEntries(rows.map((r) => [r.change_type, Number(r.n)]));
}

async function waitForState(device: SyncDevice, state: DeviceStatus['state']): Promise<void> {
  await waitFor(() => device.status.state === state, `the device to be ${state} (is ${device.status.state})`, 15_000);
}

export function syncDeviceSuite(setup: SyncDeviceSuiteSetup): void {
  const relay = useSuiteRelay(setup);
  const fixture = useDeviceFixture(relay);

  /** The folders of two machines of one user, signed in, no device open yet. */
  async function twoSignedIn(): Promise<{ a: DeviceDir; b: DeviceDir }> {
    await fixture.account(EMAIL);
    const a = await fixture.folder();
    const b = await fixture.folder();
    await fixture.signIn(a, EMAIL, 'desktop');
    await fixture.signIn(b, EMAIL, 'laptop');
    return { a, b };
  }

  /** Two signed-in devices of one user, both open and synced. */
  async function twoDevices(): Promise<{ a: DeviceDir; b: DeviceDir; devA: SyncDevice; devB: SyncDevice }> {
    const { a, b } = await twoSignedIn();
    const devA = await fixture.open(a);
    const devB = await fixture.open(b);
    await devA.waitUntilOnline();
    await devB.waitUntilOnline();
    return { a, b, devA, devB };
  }

  /**
   * B adds message B2 to a task of A's; A gets it, then A stops and its entry cache is deleted
   * (only the sync state knows B2 now). Returns the folders and A's device id; A is closed.
   */
  async function messageFromBThenACacheLost(): Promise<{ a: DeviceDir; b: DeviceDir; deviceId: string }> {
    const { a, b, devA } = await twoDevices();
    await assistantWrite(a.storePath, smallTask(TASK, ['Start', 'A1']));
    await waitForTexts(b.storePath, TASK, ['A1'], 'the task on B');
    await assistantWrite(b.storePath, smallTask(TASK, ['Start', 'A1', 'B2']));
    await waitForTexts(a.storePath, TASK, ['B2'], 'B2 on A');
    await devA.idle();
    const deviceId = devA.deviceId!;
    await devA.close();
    await rm(deviceFolder(a.dataDir, deviceId).entries, { recursive: true, force: true });
    return { a, b, deviceId };
  }

  describe('SyncDevice', () => {
    it('syncs a task the assistant writes on one device to the other device\'s store, in the same format', async () => {
      const { a, b, devA, devB } = await twoDevices();
      await assistantWrite(a.storePath, smallTask(TASK, ['Fix the build', 'Looking at the logs']));
      await waitForTexts(b.storePath, TASK, ['Fix the build', 'Looking at the logs'], 'the task on device B');
      await devB.idle();
      const history = JSON.parse(await readFile(join(b.storePath, 'tasks', TASK, 'history_item.json'), 'utf8')) as Record<string, unknown>;
      assert.equal(history.task, 'Fix the build');
      const index = JSON.parse(await readFile(join(b.storePath, 'tasks', '_index.json'), 'utf8')) as { entries: Array<{ id: string }> };
      assert.ok(index.entries.some((e) => e.id === TASK), 'the task is in the index Roo Code reads');
      await devA.idle();
      await devB.idle();
      await waitForState(devA, 'synced');
      await waitForState(devB, 'synced');
      assert.equal(devB.status.queued, 0);
      assert.deepEqual(devB.status.unrestorable, []);
    });

    it('syncs a message holding a NUL character (binary command output) as U+FFFD, and keeps syncing after it', async () => {
      // PostgreSQL cannot store NUL: before, this push failed on the relay every time and the
      // device's queue stopped behind it.
      const { a, b, devA, devB } = await twoDevices();
      await assistantWrite(a.storePath, smallTask(TASK, ['Run it', 'output: \u0000\u0001 done']));
      await waitForTexts(b.storePath, TASK, ['output: \uFFFD\u0001 done'], 'the message on device B, NUL read as U+FFFD');
      await assistantWrite(a.storePath, smallTask(TASK, ['Run it', 'output: \u0000\u0001 done', 'next message']));
      await waitForTexts(b.storePath, TASK, ['next message'], 'the next message on device B');
      await devA.idle();
      await waitForState(devA, 'synced');
      assert.equal(devA.status.queued, 0, 'nothing stuck in the queue');
      await devB.idle();
    });

    it('pushes, when it opens, the tasks written while it was closed and on a first sync the whole store (the start-up rescan is not dropped)', async () => {
      const { a, b } = await twoSignedIn();
      // Written before A ever ran: its first sync must send it, with no later change to trigger it.
      await assistantWrite(a.storePath, smallTask(TASK, ['Written before sync was on']));
      const devB = await fixture.open(b);
      await devB.waitUntilOnline();
      const devA = await fixture.open(a);
      await waitForTexts(b.storePath, TASK, ['Written before sync was on'], 'the first sync of A on B');
      await devA.idle();
      await devA.close();
      // Written while A was closed: its start-up rescan must send it.
      const later = '0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c';
      await assistantWrite(a.storePath, smallTask(later, ['Written while A was closed']));
      const devA2 = await fixture.open(a);
      // idle() flushes the outbox only on a live link; on a loaded machine the link may not be up yet.
      await devA2.waitUntilOnline();
      await devA2.idle();
      assert.equal(devA2.status.queued, 0);
      await waitForTexts(b.storePath, later, ['Written while A was closed'], 'the task written while A was closed, on B');
    });

    it('sends nothing back from a new device whose store already holds the relay\'s tasks (a backfill): its watchers start after the first pull', async () => {
      const { a, b } = await twoSignedIn();
      const devA = await fixture.open(a);
      await devA.waitUntilOnline();
      const texts = Array.from({ length: 30 }, (_, i) => `message ${i}`);
      await assistantWrite(a.storePath, smallTask(TASK, texts));
      await waitFor(async () => {
        await devA.idle();
        return devA.status.queued === 0 && ((await changesBy(relay().db, devA.deviceId!))['stream.put'] ?? 0) >= 60;
      }, 'the task on the relay');
      // B's store is a copy of A's before B ever syncs, as `roo-sync backfill` leaves it.
      await cp(join(a.storePath, 'tasks'), join(b.storePath, 'tasks'), { recursive: true });
      const devB = await fixture.open(b);
      await devB.waitUntilOnline();
      await waitFor(async () => {
        await devB.idle();
        return devB.status.state === 'synced' && devB.status.queued === 0;
      }, 'device B to settle');
      assert.deepEqual(await changesBy(relay().db, devB.deviceId!), {}, 'device B sent nothing');
      // Its watchers run: a message the assistant adds on B reaches A.
      await assistantWrite(b.storePath, smallTask(TASK, [...texts, 'added on B']));
      await waitForTexts(a.storePath, TASK, ['added on B'], 'the message from B on A');
      assert.deepEqual(await changesBy(relay().db, devB.deviceId!), { 'stream.put': 2 }, 'device B sent its message (ui and api) and nothing else');
    });

    it('sends, after its sync state and outbox were lost, a message its watch manifest had already seen', async () => {
      const { a, b, devA, devB } = await twoDevices();
      const texts = ['first', 'second'];
      await assistantWrite(a.storePath, smallTask(TASK, texts));
      await waitForTexts(b.storePath, TASK, texts, 'the task on B');
      await devA.idle();
      const folder = deviceFolder(a.dataDir, devA.deviceId!);
      await devA.close();
      // Written while A was closed, and seen by a watcher of A's (its manifest saved), but never
      // queued: then A's sync state and outbox journal are lost and only the manifest is left.
      await assistantWrite(a.storePath, smallTask(TASK, [...texts, 'never sent']));
      const watcher = new TaskStoreWatcher(a.storePath, { statePath: folder.watchState(a.storePath), rescan: 'stat' });
      await watcher.start();
      await watcher.close();
      for (const name of await readdir(folder.deviceDir)) if (name !== 'watch') await rm(join(folder.deviceDir, name), { recursive: true, force: true });
      const reopened = await fixture.open(a);
      await reopened.waitUntilOnline();
      await waitForTexts(b.storePath, TASK, [...texts, 'never sent'], 'the message A never sent, on B');
      await devB.idle();
    });

    it('sends a HistoryItem changed only in the index, every time (a task from before history_item.json)', async () => {
      const { a, b } = await twoDevices();
      const { ui, api, historyItem } = smallTask(TASK, ['A task from before Roo Code 3.49']);
      const folder = join(a.storePath, 'tasks', TASK);
      await mkdir(folder, { recursive: true });
      const writeIndex = (item: Record<string, unknown>) =>
        writeFileLikeAssistant(join(a.storePath, 'tasks', '_index.json'), { version: 1, updatedAt: Date.now(), entries: [item] });
      await writeFileLikeAssistant(join(folder, 'api_conversation_history.json'), api);
      await writeFileLikeAssistant(join(folder, 'ui_messages.json'), ui);
      await writeIndex(historyItem);
      await waitForTexts(b.storePath, TASK, ['A task from before Roo Code 3.49'], 'the task on B');
      const costOnB = async () => {
        try {
          return (JSON.parse(await readFile(join(b.storePath, 'tasks', TASK, 'history_item.json'), 'utf8')) as { totalCost?: number }).totalCost;
        } catch {
          return undefined;
        }
      };
      // The first index change after start is compared with nothing (every task is checked);
      // the next ones name the task by its changed entry.
      for (const totalCost of [0.5, 0.75, 1.25]) {
        await writeIndex({ ...historyItem, totalCost });
        await waitFor(async () => (await costOnB()) === totalCost, `totalCost ${totalCost} on B`, 15_000);
      }
    });

    it('sends nothing back after applying a page of remote changes (no echo through the real watcher)', async () => {
      const { a, b, devA, devB } = await twoDevices();
      const texts = Array.from({ length: 40 }, (_, i) => `message ${i}`);
      await assistantWrite(a.storePath, smallTask(TASK, texts));
      await waitForTexts(b.storePath, TASK, texts, 'the page on device B');
      await devB.idle();
      await devA.idle();
      // The apply's own writes reach B's watcher; whatever it does with them is done by now.
      await waitFor(async () => {
        await devB.idle();
        return devB.status.queued === 0;
      }, 'device B to settle');
      assert.deepEqual(await changesBy(relay().db, devB.deviceId!), {}, 'device B pushed nothing');
      assert.ok(((await changesBy(relay().db, devA.deviceId!))['stream.put'] ?? 0) >= 80);
    });

    it('restores, after a restart, a message from another device that the assistant\'s stale rewrite dropped', async () => {
      const { a, b, devA, devB } = await twoDevices();
      const first = smallTask(TASK, ['Write the parser', 'Plan: tokens first']);
      await assistantWrite(a.storePath, first);
      await waitForTexts(b.storePath, TASK, ['Plan: tokens first'], 'the task on B');
      // B adds a message; A's disk gets it.
      const fromB = smallTask(TASK, ['Write the parser', 'Plan: tokens first', 'B: add error recovery']);
      await assistantWrite(b.storePath, fromB);
      await waitForTexts(a.storePath, TASK, ['B: add error recovery'], 'B\'s message on A');
      await devA.idle();
      // A restarts: every in-memory cache is gone. The relay's read model is cut off, so only
      // the durable entry cache can restore B's message.
      await devA.close();
      const devA2 = await fixture.open(a, { http: { fetch: withoutReadModel() } });
      await devA2.waitUntilOnline();
      // A's assistant writes the task from its memory, which never saw B's message, plus its own.
      const stale = smallTask(TASK, ['Write the parser', 'Plan: tokens first']);
      stale.ui.push({ ts: 1_760_000_000_000 + 9000, type: 'say', say: 'text', text: 'A: tokens done' });
      await assistantWrite(a.storePath, stale);
      await waitForTexts(a.storePath, TASK, ['B: add error recovery', 'A: tokens done'], 'B\'s message restored on A');
      await waitForTexts(b.storePath, TASK, ['B: add error recovery', 'A: tokens done'], 'both messages on B');
      await devA2.idle();
      assert.deepEqual(devA2.status.unrestorable, []);
      const ops = await changesBy(relay().db, devA2.deviceId!);
      assert.equal(ops['stream.truncate'] ?? 0, 0, 'A sent no truncate');
      assert.equal(await countEntriesContaining(relay().db, 'ui', 'B: add error recovery'), 1, 'B\'s message stays on the relay');
      void devB;
    });

    it('fetches a dropped message back from the relay when the entry cache is gone too', async () => {
      const { a, b, deviceId } = await messageFromBThenACacheLost();
      // The read model follows the log asynchronously: wait until it holds B2.
      await waitFor(async () => (await countEntriesContaining(relay().db, 'ui', 'B2')) === 1, 'the read model to hold B2');
      let readModelCalls = 0;
      const devA2 = await fixture.open(a, {
        http: {
          fetch: (url, init) => {
            if (url.includes('/messages')) readModelCalls++;
            return fetch(url, init);
          },
        },
      });
      await devA2.waitUntilOnline();
      const stale = smallTask(TASK, ['Start', 'A1']);
      stale.ui.push({ ts: 1_760_000_000_000 + 9000, type: 'say', say: 'text', text: 'A3' });
      await assistantWrite(a.storePath, stale);
      await waitForTexts(a.storePath, TASK, ['B2', 'A3'], 'B2 fetched back from the relay and restored on A');
      await devA2.idle();
      assert.ok(readModelCalls > 0, 'the entry came from the relay\'s read model');
      assert.deepEqual(devA2.status.unrestorable, []);
      void b;
    });

    it('reports an entry that neither the cache nor the relay has, with its task and key, and writes nothing in its place', async () => {
      const { a, b, deviceId } = await messageFromBThenACacheLost();
      const logged: Array<Record<string, unknown>> = [];
      // The relay's read model is unreachable for this device: its messages route answers 503.
      const devA2 = await fixture.open(a, {
        http: { fetch: withoutReadModel() },
        logger: { debug() {}, info() {}, warn() {}, error: (_message, fields) => void logged.push(fields ?? {}) },
      });
      await devA2.waitUntilOnline();
      await assistantWrite(a.storePath, smallTask(TASK, ['Start', 'A1']));
      // B2 was a ui and an api entry: both are lost, reported in whichever order detection meets them.
      await waitFor(() => devA2.status.unrestorable.some((u) => u.stream === 'ui'), 'the lost ui entry to be reported');
      const lost = devA2.status.unrestorable.find((u) => u.stream === 'ui');
      assert.equal(lost!.taskId, TASK);
      assert.equal(lost!.source, 'roo-code');
      assert.ok(logged.some((f) => f.taskId === TASK && f.key === lost!.key), 'the log names the task and key');
      assert.equal((await changesBy(relay().db, deviceId))['stream.truncate'] ?? 0, 0);
      void b;
    });

    it('brings back an emptied task file, a deleted task folder and a wiped store, and sends no deletion of any kind', async () => {
      const { a, b, devA, devB } = await twoDevices();
      await assistantWrite(a.storePath, smallTask(TASK, ['One', 'Two', 'Three']));
      await waitForTexts(b.storePath, TASK, ['Three'], 'the task on B');
      await devB.idle();
      const before = await changesBy(relay().db, devB.deviceId!);
      assert.deepEqual(before, {});
      // An emptied file.
      await writeFile(join(b.storePath, 'tasks', TASK, 'ui_messages.json'), '[]');
      await waitForTexts(b.storePath, TASK, ['One', 'Two', 'Three'], 'the emptied file written back');
      await devB.idle();
      // A deleted folder.
      await rm(join(b.storePath, 'tasks', TASK), { recursive: true, force: true, maxRetries: 5 });
      await waitForTexts(b.storePath, TASK, ['One', 'Two', 'Three'], 'the deleted folder written back');
      await devB.idle();
      // A wiped store.
      await rm(join(b.storePath, 'tasks'), { recursive: true, force: true, maxRetries: 5 });
      await waitForTexts(b.storePath, TASK, ['One', 'Two', 'Three'], 'the wiped store written back');
      await devB.idle();
      const after = await changesBy(relay().db, devB.deviceId!);
      for (const kind of ['task.delete', 'stream.truncate', 'file.delete', 'stream.put', 'task.meta']) {
        assert.equal(after[kind] ?? 0, 0, `device B sent no ${kind}`);
      }
      assert.deepEqual((await uiOnDisk(a.storePath, TASK)).map((m) => m.text), ['One', 'Two', 'Three'], 'A untouched');
      void devA;
    });

    it('connects without any task store (a machine with no assistant is still a device)', async () => {
      await fixture.account(EMAIL);
      const a = await fixture.folder();
      await fixture.signIn(a, EMAIL);
      const device = await fixture.open(a, { stores: [] });
      await device.waitUntilOnline();
      await waitForState(device, 'synced');
      assert.deepEqual(device.status.stores, []);
      assert.match(describeStatus(device.status), /^synced, no task store/);
    });

    it('lets one process sync a store; a second one follows, names the holder, and takes over when it exits', async () => {
      await fixture.account(EMAIL);
      const a = await fixture.folder();
      await fixture.signIn(a, EMAIL);
      const first = await fixture.open(a, { holderName: 'roo-sync sync' });
      await first.waitUntilOnline();
      const second = await fixture.open(a, { holderName: 'VS Code window' });
      assert.equal(second.status.state, 'following');
      assert.equal(second.status.stores[0]!.role, 'following');
      assert.equal(second.status.stores[0]!.holder?.name, 'roo-sync sync');
      assert.equal(second.status.stores[0]!.holder?.pid, process.pid);
      await assert.rejects(second.syncNow(), { code: 'DEVICE_NOT_SYNCING' });
      await first.close();
      await waitFor(() => second.status.stores[0]?.role === 'syncing', 'the follower to take over');
      await second.waitUntilOnline();
    });
  });
}
