/**
 * The assistant rewrites a task file while roo-sync merges remote changes into it: the merged
 * write must not replace the assistant's newer file (that message would be lost on disk, on the
 * assistant's own device). FsTaskStore writes a snapshot only over the files as they were read
 * (STORE_CHANGED otherwise) and HybridStorage then reads and merges again.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asTaskId } from '../../../core/ids';
import { FsTaskStore } from '../../../core/node/stores/fs-task-store';
import type { TaskSnapshot } from '../../../core/ports/task-store';
import { MemoryBlobStore } from '../../../core/storage/memory-blob-store';
import { useDeviceHarness, useReferenceRelayHost } from '../../support/device-harness';

const TASK = asTaskId('0199c3d4-e5f6-7a8b-9c0d-1e2f3a4b5c6d');
const HISTORY = { id: TASK, number: 1, ts: 1, task: 'race', tokensIn: 0, tokensOut: 0, totalCost: 0 };
const say = (ts: number, text: string) => ({ ts, type: 'say', say: 'text', text });

/** Rewrites ui_messages.json as the assistant does: a whole new file renamed over the old one. */
async function assistantRewrite(base: string, ui: unknown[]): Promise<void> {
  const path = join(base, 'tasks', TASK, 'ui_messages.json');
  await writeFile(`${path}.new`, JSON.stringify(ui));
  await rename(`${path}.new`, path);
}

describe('FsTaskStore#writeTask over a file the assistant rewrote since the read', () => {
  let base: string;
  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'roo-race-'));
  });
  afterEach(() => rm(base, { recursive: true, force: true }));

  it('refuses with STORE_CHANGED and leaves the assistant\'s file as it is', async () => {
    const store = new FsTaskStore({ source: 'roo-code', basePath: base });
    await store.writeTask({ source: 'roo-code', taskId: TASK, ui: [say(1, 'one')], api: [], historyItem: HISTORY });
    const read = (await store.readTask(TASK))!;
    await assistantRewrite(base, [say(1, 'one'), say(2, 'the assistant')]);
    const merged: TaskSnapshot = { ...read, ui: [say(1, 'one'), say(3, 'remote')] };
    await assert.rejects(store.writeTask(merged), { code: 'STORE_CHANGED' });
    assert.deepEqual(JSON.parse(await readFile(join(base, 'tasks', TASK, 'ui_messages.json'), 'utf8')), [say(1, 'one'), say(2, 'the assistant')]);
    // Read again, merged again: written.
    const again = (await store.readTask(TASK))!;
    await store.writeTask({ ...again, ui: [...again.ui, say(3, 'remote')] });
    assert.equal((await store.readTask(TASK))!.ui.length, 3);
  });

  it('writes a snapshot whose files did not change, and one with no versions as before', async () => {
    const store = new FsTaskStore({ source: 'roo-code', basePath: base });
    await store.writeTask({ source: 'roo-code', taskId: TASK, ui: [say(1, 'one')], api: [], historyItem: HISTORY });
    const read = (await store.readTask(TASK))!;
    await store.writeTask({ ...read, ui: [...read.ui, say(2, 'two')] });
    await store.writeTask({ source: 'roo-code', taskId: TASK, ui: [say(1, 'one'), say(2, 'two'), say(3, 'three')], api: [], historyItem: HISTORY });
    assert.equal((await store.readTask(TASK))!.ui.length, 3);
  });
});

describe('HybridStorage applying a remote page while the assistant rewrites the task', () => {
  const host = useReferenceRelayHost();
  let race: ((base: string) => Promise<void>) | undefined;
  /** FsTaskStore whose next write is preceded by the assistant's rewrite (the race, made certain). */
  class RacedStore extends FsTaskStore {
    override async writeTask(task: TaskSnapshot): Promise<void> {
      const before = race;
      race = undefined;
      if (before) await before(this.basePath);
      return super.writeTask(task);
    }
  }
  const devices = useDeviceHarness(() => host.url, { tempPrefix: 'roo-race-', blobs: new MemoryBlobStore(), store: (basePath) => new RacedStore({ source: 'roo-code', basePath }) });

  it('keeps the assistant\'s new message and the remote one', async () => {
    const userId = host.relay.addUser();
    const [credsA, credsB] = [host.relay.addDevice(userId), host.relay.addDevice(userId)];
    const a = await devices.openDevice(await devices.tempDir(), credsA);
    const b = await devices.openDevice(await devices.tempDir(), credsB);
    await a.store.writeTask({ source: 'roo-code', taskId: TASK, ui: [say(1, 'start')], api: [], historyItem: HISTORY });
    await a.storage.syncToCloud();
    await b.storage.syncFromCloud();
    // B adds a message; while A merges it, A's assistant writes its own new message.
    await b.storage.saveMessages('roo-code', TASK, 'ui', [say(1, 'start'), say(5, 'from B')]);
    await b.storage.syncToCloud();
    race = (basePath) => assistantRewrite(basePath, [say(1, 'start'), say(4, 'from A\'s assistant')]);
    await a.storage.syncFromCloud();
    assert.equal(race, undefined, 'the race happened');
    const texts = (await a.store.readTask(TASK))!.ui.map((m) => (m as { text: string }).text);
    assert.deepEqual(texts, ['start', 'from A\'s assistant', 'from B']);
    // A's assistant's message reaches B too.
    await a.storage.syncToCloud();
    await b.storage.syncFromCloud();
    assert.deepEqual((await b.store.readTask(TASK))!.ui.map((m) => (m as { text: string }).text), ['start', 'from A\'s assistant', 'from B']);
  });
});
