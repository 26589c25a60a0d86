/**
 * `roo-sync sync` and `roo-sync status` on two machines (two HOME folders, two devices of one
 * user), driving the built dist/cli.js against the real relay on PGlite: a message appended on
 * one machine appears in the other's store while both run; a second `sync` on a store refuses
 * and names the holder; SIGTERM stops gracefully.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TaskId } from '../../core/ids';
import { FsTaskStore } from '../../core/node/stores/fs-task-store';
import { layoutOf } from '../../core/stores/layouts';
import { createUser } from '../../server/accounts/users';
import { PASSWORD, usePgliteRelay } from '../server/http/relay-fixture';
import { buildCli, machineIn, outputMatches, runCli, spawnCli, type Machine } from '../support/cli-process';
import { generateStore } from '../support/store-generator';

/** Resolves when `check` holds, checking every 50 ms; rejects after `ms` naming `what`. */
async function eventually(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('roo-sync sync / status (dist/cli.js, two machines)', function () {
  this.timeout(120_000);
  const suite = usePgliteRelay();
  let root: string;
  const running: Array<ReturnType<typeof spawnCli>> = [];

  before(buildCli);

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'roo-sync-cli-sync-'));
  });

  afterEach(async () => {
    for (const run of running.splice(0)) if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
    await rm(root, { recursive: true, force: true });
  });

  async function machine(name: string, email: string): Promise<Machine> {
    const m = await machineIn(join(root, name));
    const login = await runCli(m, ['login', '--server', suite.relay().url, '--email', email, '--device-name', name], { input: `${PASSWORD}\n` });
    assert.equal(login.code, 0, login.stderr);
    return m;
  }

  /** A new user's laptop (a generated store of 2 tasks, seed `seed`) and desktop (an empty store at `bBase`), both signed in. */
  async function twoMachines(label: string, seed: number): Promise<{ a: Machine; b: Machine; generated: Awaited<ReturnType<typeof generateStore>>; bBase: string }> {
    const email = `${label}-${Date.now()}@example.com`;
    await createUser(suite.db(), { email, password: PASSWORD });
    const a = await machine('laptop', email);
    const b = await machine('desktop', email);
    const generated = await generateStore(a.home, { source: 'roo-code', seed, tasks: 2, damage: false });
    const bBase = join(b.home, '.config', 'Code', 'User', 'globalStorage', layoutOf('roo-code').extensionId);
    await mkdir(bBase, { recursive: true });
    return { a, b, generated, bBase };
  }

  it('syncs a message appended on one machine into the other while both run; a second sync refuses naming the holder', async () => {
    const { a, b, generated, bBase } = await twoMachines('sync', 9);

    const status = await runCli(a, ['status', '--json']);
    assert.equal(status.code, 0, status.stderr);
    const before = JSON.parse(status.stdout) as { signedIn: boolean; relay: { reachable: boolean; version: string | null }; stores: Array<{ source: string; tasks: number }>; device: { queued: number } };
    assert.equal(before.signedIn, true);
    assert.equal(before.relay.reachable, true);
    assert.match(before.relay.version ?? '', /^\d+\.\d+\.\d+/, 'status names the relay\'s version');
    assert.deepEqual(before.stores.map((s) => [s.source, s.tasks]), [['roo-code', 2]]);

    const syncA = spawnCli(a, ['sync']);
    const syncB = spawnCli(b, ['sync']);
    running.push(syncA, syncB);
    await outputMatches(syncA.child, syncA.stderr, /roo-sync: synced/);
    await outputMatches(syncB.child, syncB.stderr, /roo-sync: synced/);

    const storeB = new FsTaskStore({ source: 'roo-code', basePath: bBase });
    const task = generated.readable[0]!;
    await eventually(async () => (await storeB.readTask(task.taskId as TaskId).catch(() => null))?.ui.length === task.ui.length, 30_000, 'the task on machine B').catch((e: Error) => { throw new Error(`${e.message}\nA: ${syncA.stderr()}\nB: ${syncB.stderr()}`); });

    // The assistant on A appends a message (whole-file rewrite through a temp file, as Roo Code does).
    const uiPath = join(generated.basePath, 'tasks', task.taskId, 'ui_messages.json');
    const ui = JSON.parse(await readFile(uiPath, 'utf8')) as Array<Record<string, unknown>>;
    const appended = { ts: Number(ui[ui.length - 1]!['ts']) + 1000, type: 'say', say: 'text', text: 'written on the laptop' };
    await writeFile(`${uiPath}.tmp`, JSON.stringify([...ui, appended]));
    await rename(`${uiPath}.tmp`, uiPath);
    await eventually(async () => JSON.stringify((await storeB.readTask(task.taskId as TaskId).catch(() => null))?.ui.at(-1)) === JSON.stringify(appended), 30_000, 'the appended message on machine B');

    const second = await runCli(a, ['sync', '--once']);
    assert.equal(second.code, 1);
    assert.match(second.stderr, /\[STORE_IN_USE\] .*roo-sync sync \(pid \d+ on /);
    // Nor does backfill write into a store a device syncs (the device gets the tasks itself).
    const backfill = await runCli(b, ['backfill', '--target', 'roo-code']);
    assert.equal(backfill.code, 1, backfill.stderr);
    assert.match(backfill.stderr, /\[STORE_IN_USE\] the task store .* is in use by roo-sync sync \(pid \d+ on .*gets your tasks from the relay itself/);
    const during = JSON.parse((await runCli(a, ['status', '--json'])).stdout) as { device: { syncedBy: string | null; cursor: number; queued: number } };
    assert.match(during.device.syncedBy ?? '', /^roo-sync sync \(pid \d+/);
    assert.ok(during.device.cursor > 0, `status reads the syncing process's saved cursor, not 0: ${JSON.stringify(during.device)}`);
    assert.equal(during.device.queued, 0);

    syncA.child.kill('SIGTERM');
    syncB.child.kill('SIGTERM');
    const [endA, endB] = await Promise.all([syncA.done, syncB.done]);
    assert.equal(endA.code, 0, endA.stderr);
    assert.equal(endB.code, 0, endB.stderr);
    assert.match(endA.stderr, /stopping/);

    // Stopped: one round with --once works now, and status shows the last sync.
    const once = await runCli(a, ['sync', '--once', '--json']);
    assert.equal(once.code, 0, once.stderr);
    const after = JSON.parse((await runCli(a, ['status', '--json'])).stdout) as { device: { queued: number; lastSyncAt: string | null; syncedBy: string | null } };
    assert.equal(after.device.queued, 0);
    assert.equal(after.device.syncedBy, null);
    assert.ok(after.device.lastSyncAt);
  });

  it('keeps syncing every other task while one cannot be read, and applies what waited once it is whole again', async () => {
    const { a, b, generated, bBase } = await twoMachines('sync-corrupt', 11);
    assert.equal((await runCli(a, ['sync', '--once'])).code, 0);
    assert.equal((await runCli(b, ['sync', '--once'])).code, 0);

    // A's assistant adds a message to both tasks; on B, the first task's ui_messages.json is cut short.
    const [broken, whole] = generated.readable.map((t) => t.taskId);
    const appended: Record<string, unknown> = {};
    for (const taskId of [broken!, whole!]) {
      const uiPath = join(generated.basePath, 'tasks', taskId, 'ui_messages.json');
      const ui = JSON.parse(await readFile(uiPath, 'utf8')) as Array<Record<string, unknown>>;
      appended[taskId] = { ts: Number(ui[ui.length - 1]!['ts']) + 1000, type: 'say', say: 'text', text: `new on the laptop in ${taskId}` };
      await writeFile(uiPath, JSON.stringify([...ui, appended[taskId]]));
    }
    assert.equal((await runCli(a, ['sync', '--once'])).code, 0);
    const brokenPath = join(bBase, 'tasks', broken!, 'ui_messages.json');
    const good = await readFile(brokenPath, 'utf8');
    const cut = good.slice(0, Math.floor(good.length / 2));
    await writeFile(brokenPath, cut);

    const storeB = new FsTaskStore({ source: 'roo-code', basePath: bBase });
    const first = await runCli(b, ['sync', '--once', '--json']);
    assert.equal(first.code, 3, `exit 3: finished with a task it could not read\n${first.stderr}`);
    const report = JSON.parse(first.stdout) as { pulled: { waiting: Array<{ taskId: string; code: string; changes: number; path?: string }> } };
    assert.deepEqual(report.pulled.waiting.map((w) => [w.taskId, w.code]), [[broken, 'STORE_CORRUPT_JSON']]);
    assert.ok(report.pulled.waiting[0]!.changes >= 1);
    assert.equal(report.pulled.waiting[0]!.path, brokenPath);
    assert.deepEqual((await storeB.readTask(whole as TaskId))!.ui.at(-1), appended[whole!], 'the readable task got its message');
    assert.equal(await readFile(brokenPath, 'utf8'), cut, 'the unreadable file is left as it is');

    const status = await runCli(b, ['status']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /cannot be read: 1 task\(s\)/);
    assert.ok(status.stdout.includes(`roo-code ${broken}`), status.stdout);

    // The file is whole again (restored, or rewritten by the assistant): what waited is applied.
    await writeFile(brokenPath, good);
    const second = await runCli(b, ['sync', '--once', '--json']);
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual((JSON.parse(second.stdout) as typeof report).pulled.waiting, []);
    assert.deepEqual((await storeB.readTask(broken as TaskId))!.ui.at(-1), appended[broken!]);
  });
});
