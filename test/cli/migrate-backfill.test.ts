/**
 * `roo-sync migrate` and `roo-sync backfill` as a user runs them: the built dist/cli.js as a
 * child process on machine folders (own HOME each), against the real relay on PGlite.
 * Stores come from the generator in every layout, with damage and a store indexed only by
 * state.vscdb.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TaskId } from '../../core/ids';
import { FsTaskStore } from '../../core/node/stores/fs-task-store';
import { layoutOf } from '../../core/stores/layouts';
import { createUser } from '../../server/accounts/users';
import { PASSWORD, usePgliteRelay } from '../server/http/relay-fixture';
import { buildCli, machineIn, outputMatches, runCli, spawnCli, type Machine } from '../support/cli-process';
import { generateStore, type GeneratedStore } from '../support/store-generator';
import { rewriteEntryOnRelay } from '../support/read-model-entries';
import { hashTree } from '../support/store-hash';

describe('roo-sync migrate / backfill (dist/cli.js)', function () {
  this.timeout(180_000);
  const suite = usePgliteRelay();
  let root: string;
  let users = 0;

  before(buildCli);

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'roo-sync-cli-migrate-'));
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  /** A new user and a machine signed in as them. */
  async function signedInMachine(name: string, email?: string): Promise<{ machine: Machine; email: string }> {
    const address = email ?? `user${++users}-${Date.now()}@example.com`;
    if (!email) await createUser(suite.db(), { email: address, password: PASSWORD });
    const machine = await machineIn(join(root, name));
    const login = await runCli(machine, ['login', '--server', suite.relay().url, '--email', address, '--device-name', name], { input: `${PASSWORD}\n` });
    assert.equal(login.code, 0, login.stderr);
    return { machine, email: address };
  }

  async function changeCount(email: string): Promise<number> {
    const { rows } = await suite.db().query<{ n: string }>('SELECT count(*) AS n FROM sync_operations o JOIN users u ON u.id = o.user_id WHERE u.email = $1', [email]);
    return Number(rows[0]!.n);
  }

  it('migrates every layout, lists the unreadable tasks (exit 3), leaves the stores as they were, and backfills a new machine task for task', async () => {
    const { machine, email } = await signedInMachine('laptop');
    const stores: GeneratedStore[] = [];
    for (const [i, source] of (['roo-code', 'zoo-code', 'kilo-code', 'cline'] as const).entries()) {
      stores.push(await generateStore(machine.home, { source, seed: 100 + i, tasks: 6 }));
    }
    // Roo Code in another editor, from before v3.49: its only index is state.vscdb.
    stores.push(await generateStore(machine.home, { source: 'roo-code', seed: 200, tasks: 4, index: 'state-vscdb', editor: 'Cursor', damage: false }));
    const hashes = await Promise.all(stores.map((s) => hashTree(s.basePath)));
    const unreadable = stores.flatMap((s) => s.unreadable);

    const dry = await runCli(machine, ['migrate', '--dry-run', '--json']);
    assert.equal(dry.code, 3, dry.stderr);
    const plan = (JSON.parse(dry.stdout) as { plan: { totals: { tasks: number; messages: number }; unreadable: Array<{ path: string; code: string }> } }).plan;
    assert.equal(plan.totals.tasks, stores.reduce((n, s) => n + s.readable.length + s.unreadable.length, 0));
    assert.equal(plan.totals.messages, stores.reduce((n, s) => n + s.messages, 0));
    assert.deepEqual(plan.unreadable.map((u) => u.path).sort(), unreadable.map((u) => u.path).sort());
    assert.equal(await changeCount(email), 0, '--dry-run sends nothing');
    assert.deepEqual(await Promise.all(stores.map((s) => hashTree(s.basePath))), hashes, '--dry-run writes nothing');

    const migrate = await runCli(machine, ['migrate', '--json']);
    assert.equal(migrate.code, 3, migrate.stderr);
    const result = JSON.parse(migrate.stdout) as { tasks: number; accepted: number; unreadable: Array<{ path: string; code: string }> };
    assert.ok(result.accepted > 0);
    assert.deepEqual(result.unreadable.map((u) => [u.path, u.code]).sort(), unreadable.map((u) => [u.path, u.code]).sort());
    assert.deepEqual(await Promise.all(stores.map((s) => hashTree(s.basePath))), hashes, 'migrate never changes the local stores');
    const sent = await changeCount(email);

    const again = await runCli(machine, ['migrate']);
    assert.equal(again.code, 3);
    assert.match(again.stdout, new RegExp(`nothing new to upload: the relay already has all ${result.tasks - unreadable.length} readable task\\(s\\)`));
    assert.equal(await changeCount(email), sent, 'a rerun uploads 0 changes');

    // A new machine of the same user, each assistant installed (its folder exists) and empty.
    const { machine: desktop } = await signedInMachine('desktop', email);
    for (const source of ['roo-code', 'zoo-code', 'kilo-code', 'cline'] as const) {
      const basePath = join(desktop.home, '.config', 'Code', 'User', 'globalStorage', layoutOf(source).extensionId);
      await mkdir(basePath, { recursive: true });
      const backfill = await runCli(desktop, ['backfill', '--target', source, '--json']);
      assert.equal(backfill.code, 0, backfill.stderr);
      const target = new FsTaskStore({ source, basePath });
      for (const store of stores.filter((s) => s.source === source)) {
        for (const task of store.readable) {
          const copy = await target.readTask(task.taskId as TaskId);
          assert.deepEqual(copy?.ui, task.ui, `${source} ${task.taskId} ui`);
          assert.deepEqual(copy?.api, task.api, `${source} ${task.taskId} api`);
          assert.deepEqual(copy?.historyItem, task.historyItem, `${source} ${task.taskId} HistoryItem`);
        }
      }
      const ids = await target.listTaskIds();
      for (const bad of stores.flatMap((s) => s.unreadable)) assert.ok(!ids.includes(bad.taskId as TaskId));
    }
  });

  it('--verify catches a message changed on the relay behind its back', async () => {
    const { machine } = await signedInMachine('laptop');
    const store = await generateStore(machine.home, { source: 'roo-code', seed: 300, tasks: 3, damage: false });
    const first = await runCli(machine, ['migrate', '--verify', '--json']);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual((JSON.parse(first.stdout) as { verify: { differences: unknown[] } }).verify.differences, []);
    const task = store.readable[2]!;
    const changed = { ...task.ui[0], text: 'rewritten on the relay' };
    await rewriteEntryOnRelay(suite.db(), { taskId: task.taskId, stream: 'ui', key: `${task.ui[0]!.ts}:0` }, changed);
    const second = await runCli(machine, ['migrate', '--verify', '--json']);
    assert.equal(second.code, 3, second.stderr);
    const verify = (JSON.parse(second.stdout) as { verify: { differences: Array<{ taskId: string; kind: string; key: string }> } }).verify;
    assert.deepEqual(verify.differences.map((d) => [d.taskId, d.kind, d.key]), [[task.taskId, 'content-differs', `${task.ui[0]!.ts}:0`]]);
  });

  it('killed with SIGKILL midway, a rerun completes and no change is on the relay twice', async () => {
    const { machine, email } = await signedInMachine('laptop');
    const store = await generateStore(machine.home, { source: 'roo-code', seed: 400, tasks: 200, distinct: 40, messages: [20, 40], damage: false });
    const run = spawnCli(machine, ['migrate', '--source', 'roo-code']);
    // Plain progress lines (stderr is not a terminal): kill once some tasks are uploaded.
    await outputMatches(run.child, run.stderr, /migrating ([1-9]\d*)\/200 tasks/);
    run.child.kill('SIGKILL');
    const killed = await run.done;
    assert.equal(killed.signal, 'SIGKILL');
    const partial = await changeCount(email);
    assert.ok(partial > 0);

    const rerun = await runCli(machine, ['migrate', '--source', 'roo-code', '--verify', '--json']);
    assert.equal(rerun.code, 0, rerun.stderr);
    const result = JSON.parse(rerun.stdout) as { verify: { checked: number; differences: unknown[] } };
    assert.equal(result.verify.checked, store.readable.length);
    assert.deepEqual(result.verify.differences, []);
    const { rows } = await suite.db().query<{ entity: string; hash: string | null; n: string }>(
      `SELECT entity, body->>'hash' AS hash, count(*) AS n FROM sync_operations o JOIN users u ON u.id = o.user_id
        WHERE u.email = $1 AND change_type = 'stream.put' GROUP BY entity, body->>'hash' HAVING count(*) > 1`,
      [email],
    );
    assert.deepEqual(rows, [], 'no change twice');
    const total = await changeCount(email);
    const third = await runCli(machine, ['migrate', '--source', 'roo-code']);
    assert.match(third.stdout, /nothing new to upload/);
    assert.equal(await changeCount(email), total);
  });

  it('the first sync --once of a backfilled machine sends nothing, leaves nothing queued and changes no file', async () => {
    const { machine, email } = await signedInMachine('laptop');
    const store = await generateStore(machine.home, { source: 'roo-code', seed: 600, tasks: 40, distinct: 20, messages: [20, 80] });
    const migrate = await runCli(machine, ['migrate']);
    assert.equal(migrate.code, 3, 'the damaged tasks are listed');
    const all = store.readable.length + store.unreadable.length;
    assert.match(migrate.stdout, new RegExp(`^uploaded ${store.readable.length} task\\(s\\) of ${all}, `, 'm'), 'counts only the tasks it could read as uploaded');
    const { machine: other } = await signedInMachine('desktop', email);
    const basePath = join(other.home, '.config', 'Code', 'User', 'globalStorage', layoutOf('roo-code').extensionId);
    await mkdir(basePath, { recursive: true });
    const backfill = await runCli(other, ['backfill', '--target', 'roo-code']);
    assert.equal(backfill.code, 0, backfill.stderr);
    assert.match(backfill.stdout, /roo-sync sync/, 'says how to keep the machine in sync');
    const before = await hashTree(basePath);
    const changes = await changeCount(email);

    const sync = await runCli(other, ['sync', '--once', '--json']);
    assert.equal(sync.code, 0, sync.stderr);
    const report = JSON.parse(sync.stdout) as { pushed: { accepted: number; queued: number }; pulled: { received: number } };
    assert.equal(report.pushed.accepted, 0);
    assert.equal(report.pushed.queued, 0);
    assert.ok(report.pulled.received > 0, 'the round pulled the log');
    assert.equal(await changeCount(email), changes, 'nothing new on the relay');
    assert.equal(await hashTree(basePath), before, 'no file of the store changed');
    const status = JSON.parse((await runCli(other, ['status', '--json'])).stdout) as { device: { queued: number } };
    assert.equal(status.device.queued, 0);

    // migrate would upload the backfilled tasks again: refused, pointing at sync.
    const migrateAgain = await runCli(other, ['migrate']);
    assert.equal(migrateAgain.code, 1);
    assert.match(migrateAgain.stderr, /\[MIGRATE_STORE_BACKFILLED\].*roo-sync sync/);
    assert.equal(await changeCount(email), changes, 'nothing uploaded');
  });

  it('backfill keeps a newer local copy and --rollback leaves the store byte-identical; --dry-run writes nothing', async () => {
    const { machine, email } = await signedInMachine('laptop');
    const store = await generateStore(machine.home, { source: 'roo-code', seed: 500, tasks: 5, damage: false });
    assert.equal((await runCli(machine, ['migrate'])).code, 0);
    const { machine: other } = await signedInMachine('desktop', email);
    const basePath = join(other.home, 'stores', 'kilo');
    const target = new FsTaskStore({ source: 'kilo-code', basePath });
    // The other machine has a newer copy of one task, under Kilo Code.
    const task = store.readable[0]!;
    const newer = { source: 'kilo-code' as const, taskId: task.taskId as TaskId, ui: [...task.ui, { ts: Number(task.ui[task.ui.length - 1]!.ts) + 5000, type: 'say', say: 'text', text: 'added here' }], api: task.api, historyItem: { ...task.historyItem, tokensIn: 999_999 } };
    await target.writeTask(newer);
    const before = await hashTree(basePath);

    const dry = await runCli(other, ['backfill', '--target', `kilo-code=${basePath}`, '--from', 'roo-code', '--dry-run', '--json']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.equal((JSON.parse(dry.stdout) as { created: number }).created, 4);
    assert.equal(await hashTree(basePath), before);

    const backfill = await runCli(other, ['backfill', '--target', `kilo-code=${basePath}`, '--from', 'roo-code', '--json']);
    assert.equal(backfill.code, 0, backfill.stderr);
    assert.deepEqual((await target.readTask(task.taskId as TaskId))?.ui, newer.ui);
    assert.equal((await target.readTask(task.taskId as TaskId))?.historyItem?.['tokensIn'], 999_999);
    assert.equal((await target.listTaskIds()).length, 5);

    const rollback = await runCli(other, ['backfill', '--target', `kilo-code=${basePath}`, '--rollback']);
    assert.equal(rollback.code, 0, rollback.stderr);
    assert.equal(await hashTree(basePath), before);
  });
});
