/**
 * The read-model projector (server/projections) against a real database, run on PGlite
 * (projector.pglite.test.ts) and PostgreSQL (projector.postgres.test.ts): the rows every change
 * type gives, independence from batch boundaries, idempotence, two projectors on one database,
 * compaction before projection, and account deletion.
 */
import assert from 'node:assert/strict';
import { asTaskId, asWorkspaceId, type DeviceId, type UserId } from '../../../core/ids';
import type { ClientChange, TaskSource } from '../../../core/model/changes';
import { appendChanges, compactLog } from '../../../server/db/change-log';
import type { Database } from '../../../server/db/database';
import { PAGE_PLAN_SETTING, PAGE_SQL, projectBatch, projectUsers } from '../../../server/projections/project-batch';
import { Projector, projectionLag } from '../../../server/projections/projector';
import { listMessagesJson } from '../../../server/projections/read-model';
import { RelayMetrics } from '../../../server/observability/metrics';
import { hlc, insertUser, newDeviceId, taskMeta } from '../db/fixtures';

/** Resolves once `condition` holds (checked every few ms; the mocha timeout bounds it). */
async function waitUntil(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}

/** A node of EXPLAIN (FORMAT JSON)'s plan. */
interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  Plans?: PlanNode[];
}

export interface ProjectorSuiteSetup {
  db(): Database;
}

const source: TaskSource = 'roo-code';

function put(clientSeq: number, taskId: string, stream: 'ui' | 'api', key: string, text: string): ClientChange {
  return {
    clientSeq, baseSeq: null,
    body: { type: 'stream.put', source, taskId: asTaskId(taskId), stream, key, hash: `h-${text}`, entry: { text, nested: { n: clientSeq } } },
  };
}
function truncate(clientSeq: number, taskId: string, stream: 'ui' | 'api', afterKey: string | null): ClientChange {
  return { clientSeq, baseSeq: null, body: { type: 'stream.truncate', source, taskId: asTaskId(taskId), stream, afterKey } };
}
function del(clientSeq: number, taskId: string, clock: string): ClientChange {
  return { clientSeq, baseSeq: null, body: { type: 'task.delete', source, taskId: asTaskId(taskId), clock } };
}
function file(clientSeq: number, path: string, hash: string | null): ClientChange {
  const workspaceId = asWorkspaceId('ws-1');
  return hash === null
    ? { clientSeq, baseSeq: null, body: { type: 'file.delete', workspaceId, path } }
    : { clientSeq, baseSeq: null, body: { type: 'file.put', workspaceId, path, hash, size: 3, mode: 0o100644, mtime: 1_700_000_000_000.5, binary: false } };
}

/** A push holding every change type, with truncates, a delete and a re-put across any batch boundary. */
function everyType(): ClientChange[] {
  let n = 0;
  const s = () => ++n;
  return [
    taskMeta(s(), null, { ts: 1000, task: 'first', tokensIn: 10 }, hlc(1), 'a'),
    put(s(), 'a', 'ui', '1000:0', 'u0'),
    put(s(), 'a', 'ui', '1000:1', 'u1'),
    put(s(), 'a', 'ui', '2000:0', 'u2'),
    put(s(), 'a', 'api', '0', 'a0'),
    put(s(), 'a', 'api', '1', 'a1'),
    put(s(), 'a', 'api', '2', 'a2'),
    taskMeta(s(), null, { task: 'renamed', tokensIn: 4, mode: null }, hlc(2), 'a'),
    truncate(s(), 'a', 'api', '0'),
    put(s(), 'a', 'api', '1', 'a1-again'),
    put(s(), 'a', 'ui', '1000:1', 'u1-edited'),
    truncate(s(), 'a', 'ui', '1000:1'),
    taskMeta(s(), null, { ts: 500, task: 'doomed' }, hlc(3), 'b'),
    put(s(), 'b', 'ui', '500:0', 'b0'),
    del(s(), 'b', hlc(4)),
    put(s(), 'b', 'ui', '600:0', 'after the delete'),
    taskMeta(s(), null, { task: 'after the delete' }, hlc(5), 'b'),
    file(s(), 'src/a.ts', 'f'.repeat(64)),
    file(s(), 'src/b.ts', 'e'.repeat(64)),
    file(s(), 'src/b.ts', null),
    file(s(), 'src/a.ts', 'd'.repeat(64)),
  ];
}

/** The user's read model as plain values (no ids or timestamps), for comparisons. */
async function dump(db: Database, userId: string) {
  const q = async (sql: string) => (await db.query(sql, [userId])).rows;
  return {
    conversations: await q(
      `SELECT source, task_id, metadata, field_clocks, head_seq, deleted_at IS NOT NULL AS deleted
         FROM conversations WHERE user_id = $1 ORDER BY task_id`),
    messages: await q(
      // content: the entry of the log change the row names (null if that change were gone).
      `SELECT c.task_id, m.stream, m.entry_key, m.key_major, m.key_minor, m.content_hash, (s.body -> 'entry')::text AS content, m.seq, m.device_id
         FROM messages m JOIN conversations c ON c.id = m.conversation_id
         LEFT JOIN sync_operations s ON s.user_id = c.user_id AND s.seq = m.seq
        WHERE c.user_id = $1
        ORDER BY c.task_id, m.stream, m.key_major, m.key_minor`),
    messageChanges: await q(
      `SELECT c.task_id, x.stream, x.entry_key, x.change_type, x.content_hash, x.seq
         FROM message_changes x JOIN conversations c ON c.id = x.conversation_id WHERE c.user_id = $1 ORDER BY x.seq`),
    workspaces: await q('SELECT id FROM workspaces WHERE user_id = $1 ORDER BY id'),
    files: await q(
      `SELECT workspace_id, path, content_hash, size, mode, mtime_ms, is_binary, deleted, sync_status, seq
         FROM file_sync_state WHERE user_id = $1 ORDER BY path`),
    fileChanges: await q('SELECT workspace_id, path, change_type, content_hash, size, seq FROM file_changes WHERE user_id = $1 ORDER BY seq'),
  };
}

/** Runs batches of `limit` rows until the user is caught up; returns how many batches projected rows. */
async function catchUp(db: Database, userId: string, limit: number): Promise<number> {
  let batches = 0;
  for (;;) {
    const outcome = await projectBatch(db, userId, { limit });
    if (outcome.status === 'locked') assert.fail('nothing else projects this user');
    if (outcome.status === 'projected' && outcome.rows > 0) batches++;
    if (!outcome.more) return batches;
  }
}

async function cursorOf(db: Database, userId: string): Promise<{ seq: number; rebuilds: number }> {
  const { rows } = await db.query<{ seq: number; rebuilds: number }>('SELECT seq, rebuilds FROM read_model_cursors WHERE user_id = $1', [userId]);
  return { seq: Number(rows[0]?.seq ?? 0), rebuilds: Number(rows[0]?.rebuilds ?? 0) };
}

export function projectorSuite(setup: ProjectorSuiteSetup): void {
  const db = () => setup.db();
  let user: UserId;
  let device: DeviceId;

  beforeEach(async () => {
    user = await insertUser(db());
    device = newDeviceId();
  });

  describe('projectBatch', () => {
    it('projects every change type into conversations, messages, their history and the workspace files', async () => {
      await appendChanges(db(), user, device, everyType());
      await catchUp(db(), user, 1000);
      const model = await dump(db(), user);

      const [a, b] = model.conversations as Array<Record<string, unknown>>;
      assert.deepEqual(a!.metadata, { ts: 1000, task: 'renamed', tokensIn: 10 }, 'per field by HLC, counters keep the maximum, null removes');
      assert.equal((a!.field_clocks as Record<string, string>).mode, hlc(2), 'a removed field keeps its clock');
      assert.equal(a!.deleted, false);
      assert.equal(Number(a!.head_seq), 12);
      assert.deepEqual({ ...b!, field_clocks: undefined }, {
        source, task_id: 'b', metadata: {}, field_clocks: undefined, head_seq: 15, deleted: true,
      }, 'the tombstone stands: later changes to the task are ignored');

      const keys = model.messages.map((m) => `${m.task_id}/${m.stream}/${m.entry_key}=${JSON.parse(m.content as string).text}`);
      assert.deepEqual(keys, ['a/api/0=a0', 'a/api/1=a1-again', 'a/ui/1000:0=u0', 'a/ui/1000:1=u1-edited']);
      const ui1 = model.messages.find((m) => m.entry_key === '1000:1')!;
      assert.deepEqual([Number(ui1.key_major), Number(ui1.key_minor), Number(ui1.seq), ui1.device_id], [1000, 1, 11, device]);
      assert.equal(ui1.content, JSON.stringify({ text: 'u1-edited', nested: { n: 11 } }));

      const history = model.messageChanges.map((c) => `${c.seq}:${c.change_type}:${c.entry_key ?? '*'}`);
      assert.deepEqual(history, ['2:put:1000:0', '3:put:1000:1', '4:put:2000:0', '5:put:0', '6:put:1', '7:put:2', '9:truncate:0',
        '10:put:1', '11:put:1000:1', '12:truncate:1000:1', '14:put:500:0']);

      assert.deepEqual(model.workspaces, [{ id: 'ws-1' }]);
      assert.deepEqual(model.files.map((f) => [f.path, f.content_hash, f.deleted, Number(f.seq), f.sync_status]), [
        ['src/a.ts', 'd'.repeat(64), false, 21, 'synced'],
        ['src/b.ts', null, true, 20, 'synced'],
      ]);
      assert.equal(Number(model.files[0]!.mtime_ms), 1_700_000_000_001);
      assert.equal(Number(model.files[0]!.mode), 0o100644);
      assert.deepEqual(model.fileChanges.map((c) => `${c.seq}:${c.change_type}:${c.path}`), ['18:put:src/a.ts', '19:put:src/b.ts', '20:delete:src/b.ts', '21:put:src/a.ts']);
      assert.deepEqual(await cursorOf(db(), user), { seq: 21, rebuilds: 0 });
    });

    it('gives the same read model whatever the batch size', async () => {
      const other = await insertUser(db());
      await appendChanges(db(), user, device, everyType());
      await appendChanges(db(), other, device, everyType());
      assert.equal(await catchUp(db(), user, 1), 21);
      await catchUp(db(), other, 1000);
      assert.deepEqual(await dump(db(), user), await dump(db(), other));
    });

    it('is idempotent: a caught-up user projects nothing and nothing changes', async () => {
      await appendChanges(db(), user, device, everyType());
      await catchUp(db(), user, 7);
      const before = await dump(db(), user);
      const again = await projectBatch(db(), user);
      assert.deepEqual(again, { status: 'projected', rows: 0, skipped: 0, cursor: 21, more: false, counts: {} });
      assert.deepEqual(await dump(db(), user), before);
    });

    it('skips a change it cannot store and still moves past it', async () => {
      await appendChanges(db(), user, device, [put(1, 'a', 'ui', 'not-a-key', 'x'), put(2, 'a', 'ui', '5:0', 'ok')]);
      const outcome = await projectBatch(db(), user);
      assert.equal(outcome.status, 'projected');
      if (outcome.status === 'projected') assert.deepEqual([outcome.rows, outcome.skipped, outcome.cursor], [2, 1, 2]);
      assert.deepEqual((await dump(db(), user)).messages.map((m) => m.entry_key), ['5:0']);
    });

    it('rebuilds from the log when compaction removed rows it had not reached, and loses nothing', async () => {
      await appendChanges(db(), user, device, [put(1, 'a', 'ui', '5:0', 'v1'), taskMeta(2, null, { task: 'x', ts: 1 }, hlc(1), 'a')]);
      await catchUp(db(), user, 1000);
      // Superseded while the projector is behind: seq 3 (v2) and seq 6 (meta) become superseded.
      await appendChanges(db(), user, device, [
        put(3, 'a', 'ui', '5:0', 'v2'),
        truncate(4, 'a', 'ui', '3:0'),
        put(5, 'a', 'ui', '5:0', 'v3'),
        taskMeta(6, 2, { task: 'y' }, hlc(2), 'a'),
        taskMeta(7, 6, { ts: 9 }, hlc(3), 'a'),
        put(8, 'a', 'ui', '6:0', 'w'),
      ]);
      const compacted = await compactLog(db(), user, new Date(Date.now() + 60_000));
      assert.ok(compacted.removed > 0 && compacted.compactedSeq > 2, 'compaction passed the projection cursor');
      await catchUp(db(), user, 2);
      const model = await dump(db(), user);
      assert.deepEqual(model.messages.map((m) => `${m.entry_key}=${JSON.parse(m.content as string).text}`), ['5:0=v3', '6:0=w']);
      assert.deepEqual((model.conversations[0] as { metadata: unknown }).metadata, { task: 'y', ts: 9 });
      assert.equal((await cursorOf(db(), user)).rebuilds, 1);
      assert.equal((await cursorOf(db(), user)).seq, 8);

      // A second compaction below the cursor removes only what was projected: no rebuild.
      await appendChanges(db(), user, device, [put(9, 'a', 'ui', '6:0', 'w2')]);
      await catchUp(db(), user, 1000);
      await compactLog(db(), user, new Date(Date.now() + 60_000));
      await appendChanges(db(), user, device, [put(10, 'a', 'ui', '7:0', 'z')]);
      await catchUp(db(), user, 1000);
      assert.equal((await cursorOf(db(), user)).rebuilds, 1);
      assert.deepEqual((await dump(db(), user)).messages.map((m) => `${m.entry_key}=${JSON.parse(m.content as string).text}`), ['5:0=v3', '6:0=w2', '7:0=z']);
    });

    it('reads a put\'s head (its body without the entry) where the log has one, and the whole body for older rows', async () => {
      const older = await insertUser(db());
      await appendChanges(db(), user, device, everyType());
      await appendChanges(db(), older, device, everyType());
      const { rows: heads } = await db().query<{ change_type: string; head: unknown }>(
        'SELECT change_type, head FROM sync_operations WHERE user_id = $1 ORDER BY seq', [user]);
      assert.deepEqual(heads[1], { change_type: 'stream.put', head: { type: 'stream.put', source, taskId: 'a', stream: 'ui', key: '1000:0', hash: 'h-u0' } });
      assert.ok(heads.every((r) => (r.change_type === 'stream.put') === (r.head !== null)), 'a head for every put and only for puts');
      await db().query('UPDATE sync_operations SET head = NULL WHERE user_id = $1', [older]); // as stored before migration 0011
      await catchUp(db(), user, 1000);
      await catchUp(db(), older, 1000);
      assert.deepEqual(await dump(db(), user), await dump(db(), older));
    });

    it('stores, projects, serves and compacts an entry holding U+0000 (an older device sends it escaped)', async () => {
      // PostgreSQL's json functions refuse to take apart a text holding the escape \u0000.
      const nul = (clientSeq: number, text: string): ClientChange => ({
        clientSeq, baseSeq: null,
        body: { type: 'stream.put', source, taskId: asTaskId('a'), stream: 'ui', key: '5:0', hash: `h${clientSeq}`, entry: { text } },
      });
      await appendChanges(db(), user, device, [nul(1, 'bin\u0000ary'), taskMeta(2, null, { task: 'x', ts: 1 }, hlc(1), 'a')]);
      await catchUp(db(), user, 1000);
      const { rows: [conv] } = await db().query<{ id: string }>('SELECT id FROM conversations WHERE user_id = $1', [user]);
      const page = JSON.parse(await listMessagesJson(db(), conv!.id, { stream: 'ui', limit: 10 })) as { messages: Array<{ entry: unknown }> };
      assert.deepEqual(page.messages.map((m) => m.entry), [{ text: 'bin\u0000ary' }]);

      await appendChanges(db(), user, device, [nul(3, 'next\u0000')]);
      assert.equal((await compactLog(db(), user, new Date(Date.now() + 60_000))).removed, 0, 'the read model still names seq 1');
      await catchUp(db(), user, 1000);
      assert.equal((await compactLog(db(), user, new Date(Date.now() + 60_000))).removed, 1);
      const after = JSON.parse(await listMessagesJson(db(), conv!.id, { stream: 'ui', limit: 10 })) as { messages: Array<{ entry: unknown }> };
      assert.deepEqual(after.messages.map((m) => m.entry), [{ text: 'next\u0000' }]);
      // Stored without a head (as before migration 0011) the body must be parsed, which PostgreSQL
      // refuses here: the route reads the page's bodies whole and takes the entry out itself.
      await db().query('UPDATE sync_operations SET head = NULL WHERE user_id = $1', [user]);
      const parsed = JSON.parse(await listMessagesJson(db(), conv!.id, { stream: 'ui', limit: 10 })) as { messages: Array<{ entry: unknown }> };
      assert.deepEqual(parsed.messages.map((m) => m.entry), [{ text: 'next\u0000' }]);
    });

    it('serves each entry as sent, cut out of its body by position, and parses a body stored without a head', async () => {
      const entry = { text: 'é 😀 "quoted" },"entry":{"x":1} \\ end', nested: { list: [1, 2.5, null, true], '': 'empty key' }, n: -0.001 };
      await appendChanges(db(), user, device, [
        { clientSeq: 1, baseSeq: null, body: { type: 'stream.put', source, taskId: asTaskId('a'), stream: 'api', key: '0', hash: 'h0', entry } },
        { clientSeq: 2, baseSeq: null, body: { type: 'stream.put', source, taskId: asTaskId('a'), stream: 'api', key: '1', hash: 'h1', entry: 'just a string' } },
      ]);
      const { rows: stored } = await db().query<{ body: string; head: string }>('SELECT body::text AS body, head::text AS head FROM sync_operations WHERE user_id = $1 ORDER BY seq', [user]);
      assert.equal(stored[0]!.body, `${stored[0]!.head.slice(0, -1)},"entry":${JSON.stringify(entry)}}`, 'the entry is last, after the head');
      await catchUp(db(), user, 1000);
      const { rows: [conv] } = await db().query<{ id: string }>('SELECT id FROM conversations WHERE user_id = $1', [user]);
      const page = async () => await listMessagesJson(db(), conv!.id, { stream: 'api', limit: 10 });
      const served = await page();
      assert.equal(served, `{"stream":"api","messages":[{"key":"1","hash":"h1","seq":2,"entry":"just a string"},{"key":"0","hash":"h0","seq":1,"entry":${JSON.stringify(entry)}}]}`);
      await db().query('UPDATE sync_operations SET head = NULL WHERE user_id = $1', [user]); // as stored before migration 0011
      assert.equal(await page(), served);
    });

    it('compaction keeps a put the read model still names until the projector has applied the newer one', async () => {
      await appendChanges(db(), user, device, [put(1, 'a', 'ui', '5:0', 'v1'), taskMeta(2, null, { task: 'x', ts: 1 }, hlc(1), 'a')]);
      await catchUp(db(), user, 1000);
      await appendChanges(db(), user, device, [put(3, 'a', 'ui', '5:0', 'v2')]); // supersedes seq 1, not projected yet
      assert.equal((await compactLog(db(), user, new Date(Date.now() + 60_000))).removed, 0);
      const text = async () => (await dump(db(), user)).messages.map((m) => `${m.entry_key}@${m.seq}=${JSON.parse(m.content as string).text}`);
      assert.deepEqual(await text(), ['5:0@1=v1']);

      await catchUp(db(), user, 1000);
      assert.deepEqual(await text(), ['5:0@3=v2']);
      assert.equal((await compactLog(db(), user, new Date(Date.now() + 60_000))).removed, 1);
      assert.deepEqual(await text(), ['5:0@3=v2']);
      assert.equal((await cursorOf(db(), user)).rebuilds, 0);
    });

    it('reads a page of the log and no more, however long the backlog after the cursor (a new table has no statistics)', async () => {
      const backlog = Array.from({ length: 1500 }, (_, i) => put(i + 1, `t${i % 30}`, 'api', String(i), `e${i}`));
      await appendChanges(db(), user, device, backlog);
      await projectBatch(db(), user, { limit: 1 }); // creates the cursor row
      const scans = await db().transaction(async (tx) => {
        await tx.query(PAGE_PLAN_SETTING);
        const { rows } = await tx.query<Record<string, unknown>>(`EXPLAIN (ANALYZE, FORMAT JSON) ${PAGE_SQL}`, [[user], 11]);
        const cell = Object.values(rows[0]!)[0];
        const plan = (typeof cell === 'string' ? JSON.parse(cell) : cell) as Array<{ Plan: PlanNode }>;
        const found: PlanNode[] = [];
        const walk = (node: PlanNode): void => {
          if (node['Relation Name'] === 'sync_operations') found.push(node);
          for (const child of node.Plans ?? []) walk(child);
        };
        walk(plan[0]!.Plan);
        return found;
      });
      assert.ok(scans.length > 0);
      for (const scan of scans) {
        assert.notEqual(scan['Node Type'], 'Bitmap Heap Scan', 'a bitmap scan fetches every row after the cursor');
        assert.ok(scan['Actual Rows'] * scan['Actual Loops'] <= 11, `${scan['Node Type']} read ${scan['Actual Rows']} log rows for a page of 11`);
      }
      await catchUp(db(), user, 500);
      assert.deepEqual(await cursorOf(db(), user), { seq: 1500, rebuilds: 0 });
    });

    it('projects several users in one transaction, each as if alone, with a share of the rows each', async () => {
      const [b, c, refA, refB] = [await insertUser(db()), await insertUser(db()), await insertUser(db()), await insertUser(db())];
      await appendChanges(db(), user, device, everyType());
      await appendChanges(db(), b, device, everyType().slice(0, 10));
      await appendChanges(db(), refA, device, everyType());
      await appendChanges(db(), refB, device, everyType().slice(0, 10));
      await catchUp(db(), refA, 1000);
      await catchUp(db(), refB, 1000);

      // 6 rows in all over three locked users: 2 each (c has none but still takes its share), under the 4 per user.
      const first = await projectUsers(db(), [user, b, c], { limit: 4, totalLimit: 6 });
      assert.deepEqual([...first.keys()], [user, b, c]);
      const summary = (o: ReturnType<typeof first.get>) => o?.status === 'projected' ? [o.rows, o.cursor, o.more] : o?.status;
      assert.deepEqual([first.get(user), first.get(b), first.get(c)].map(summary), [[2, 2, true], [2, 2, true], [0, 0, false]]);

      const rest = await projectUsers(db(), [user, b, c], { limit: 1000 });
      assert.deepEqual([rest.get(user), rest.get(b), rest.get(c)].map(summary), [[19, 21, false], [8, 10, false], [0, 0, false]]);
      assert.deepEqual(await dump(db(), user), await dump(db(), refA));
      assert.deepEqual(await dump(db(), b), await dump(db(), refB));
      assert.deepEqual([(await cursorOf(db(), user)).seq, (await cursorOf(db(), b)).seq, (await cursorOf(db(), c)).seq], [21, 10, 0]);
    });

    it("is removed with the user's account", async () => {
      await appendChanges(db(), user, device, everyType());
      await catchUp(db(), user, 1000);
      await db().query('DELETE FROM users WHERE id = $1', [user]);
      const counts = await db().query<{ n: number }>(
        `SELECT (SELECT count(*) FROM conversations) + (SELECT count(*) FROM messages) + (SELECT count(*) FROM message_changes)
              + (SELECT count(*) FROM workspaces) + (SELECT count(*) FROM file_sync_state) + (SELECT count(*) FROM file_changes)
              + (SELECT count(*) FROM read_model_cursors) AS n`,
      );
      assert.equal(Number(counts.rows[0]!.n), 0);
    });
  });

  describe('Projector', () => {
    it('catches up every lagging user at start, reports lag and rows in metrics, and closes twice', async () => {
      const other = await insertUser(db());
      await appendChanges(db(), user, device, everyType());
      await appendChanges(db(), other, device, everyType().slice(0, 5));
      assert.equal(await projectionLag(db()), 26);
      const metrics = new RelayMetrics();
      const projector = new Projector({ db: db(), metrics, batchSize: 4, sweepIntervalMs: 0 }).start();
      try {
        await projector.idle();
        assert.equal(await projectionLag(db()), 0);
        assert.match(await metrics.render(), /roo_sync_projection_lag_changes 0/);
        const rows = (await metrics.projectionRows.get()).values.reduce((n, v) => n + v.value, 0);
        assert.equal(rows, 26);
        assert.equal((await cursorOf(db(), other)).seq, 5);
      } finally {
        await projector.close();
        await projector.close();
      }
    });

    it('projects the users dirtied while a batch runs together, in one transaction', async () => {
      const others = [await insertUser(db()), await insertUser(db()), await insertUser(db())];
      const ref = await insertUser(db());
      for (const u of [user, ...others, ref]) await appendChanges(db(), u, device, everyType());
      await catchUp(db(), ref, 1000);
      const metrics = new RelayMetrics();
      const projector = new Projector({ db: db(), metrics, sweepIntervalMs: 0, settleMs: 0 });
      const events: string[] = [];
      projector.onBatch((e) => events.push(`${e.userId}:${e.outcome.status}`));
      try {
        for (const u of [user, ...others]) projector.markDirty(u); // the first starts a batch of its own
        await projector.idle();
      } finally {
        await projector.close();
      }
      assert.deepEqual(events.sort(), [user, ...others].map((u) => `${u}:projected`).sort());
      assert.equal((await metrics.projectionBatchDuration.get()).values.find((v) => v.metricName?.endsWith('_count'))?.value, 2, 'the first user, then the three others together');
      for (const u of [user, ...others]) {
        assert.deepEqual(await dump(db(), u), await dump(db(), ref));
        assert.equal((await cursorOf(db(), u)).seq, 21);
      }
    });

    it('waits settleMs before a batch that is not full: the users marked meanwhile join it', async () => {
      const others = [await insertUser(db()), await insertUser(db())];
      for (const u of [user, ...others]) await appendChanges(db(), u, device, everyType());
      const metrics = new RelayMetrics();
      const projector = new Projector({ db: db(), metrics, sweepIntervalMs: 0, settleMs: 40 });
      try {
        projector.markDirty(user);
        await new Promise((resolve) => setImmediate(resolve));
        for (const u of others) projector.markDirty(u);
        await projector.idle();
      } finally {
        await projector.close();
      }
      assert.equal((await metrics.projectionBatchDuration.get()).values.find((v) => v.metricName?.endsWith('_count'))?.value, 1, 'one batch for the three users');
      for (const u of [user, ...others]) assert.equal((await cursorOf(db(), u)).seq, 21);
    });

    it('gives way while busy() says pushes wait, then projects; busy for ever delays it by maxDeferMs only', async () => {
      await appendChanges(db(), user, device, everyType());
      let busy = true;
      let asked = 0;
      const projector = new Projector({ db: db(), sweepIntervalMs: 0, settleMs: 0, maxDeferMs: 60_000, busy: () => { asked++; return busy; } });
      const batches: string[] = [];
      projector.onBatch((e) => batches.push(e.userId));
      try {
        projector.markDirty(user);
        await waitUntil(() => asked >= 3);
        assert.deepEqual(batches, [], 'nothing projected while busy');
        assert.equal((await cursorOf(db(), user)).seq, 0);
        busy = false;
        await projector.idle();
        assert.deepEqual(batches, [user]);
      } finally {
        await projector.close();
      }
      const other = await insertUser(db());
      await appendChanges(db(), other, device, everyType());
      const bounded = new Projector({ db: db(), sweepIntervalMs: 0, settleMs: 0, maxDeferMs: 30, busy: () => true });
      try {
        bounded.markDirty(other);
        await bounded.idle();
      } finally {
        await bounded.close();
      }
      assert.equal((await cursorOf(db(), other)).seq, 21, 'projected after maxDeferMs although still busy');
    });

    it('does not give way to pushes while a user is more than a batch behind (a migration keeps pushing)', async () => {
      await appendChanges(db(), user, device, everyType());
      let asked = 0;
      const askedAtBatch: number[] = [];
      const projector = new Projector({ db: db(), batchSize: 5, sweepIntervalMs: 0, settleMs: 0, maxDeferMs: 50, busy: () => { asked++; return true; } });
      projector.onBatch(() => askedAtBatch.push(asked));
      try {
        projector.markDirty(user);
        await projector.idle();
      } finally {
        await projector.close();
      }
      assert.equal((await cursorOf(db(), user)).seq, 21, 'the whole backlog projected');
      assert.equal(askedAtBatch.length, 5, 'five batches of at most 5 rows');
      assert.ok(askedAtBatch[0]! > 0, 'the first batch, with no backlog known yet, gave way');
      assert.deepEqual(askedAtBatch.slice(1), askedAtBatch.slice(1).map(() => askedAtBatch[0]), 'the backlogged batches after it did not wait on busy()');
    });

    it('retries the users of a failed batch one by one, and the rolled-back batch leaves nothing behind', async () => {
      const real = db();
      const users = [user, await insertUser(db()), await insertUser(db()), await insertUser(db())];
      for (const u of users) await appendChanges(real, u, device, everyType().slice(0, 6));
      let calls = 0;
      const batchSizes: number[] = [];
      let release!: () => void;
      const gate = new Promise<void>((resolve) => { release = resolve; });
      // The first transaction waits until the other users are dirty; the second (those three
      // together) does its work and then fails, so it rolls back.
      const flaky: Database = {
        kind: real.kind,
        query: (sql, params) => real.query(sql, params),
        exec: (sql) => real.exec(sql),
        withAdvisoryLock: (key, fn) => real.withAdvisoryLock(key, fn),
        health: () => real.health(),
        close: () => real.close(),
        async transaction(fn) {
          const n = ++calls;
          if (n === 1) await gate;
          return real.transaction(async (tx) => {
            let first = true;
            const result = await fn({
              exec: (sql) => tx.exec(sql),
              query: (sql, params) => {
                // The users a transaction asks for: its first locking statement's ids.
                if (first && sql.includes('FOR UPDATE SKIP LOCKED')) batchSizes.push((params![0] as string[]).length);
                if (sql.includes('FOR UPDATE SKIP LOCKED')) first = false;
                return tx.query(sql, params);
              },
            });
            if (n === 2) throw new Error('injected failure');
            return result;
          });
        },
      };
      const metrics = new RelayMetrics();
      const projector = new Projector({ db: flaky, metrics, sweepIntervalMs: 0, retryMs: 1, settleMs: 0 });
      try {
        for (const u of users) projector.markDirty(u);
        release();
        await projector.idle();
      } finally {
        await projector.close();
      }
      assert.deepEqual(batchSizes, [1, 3, 1, 1, 1], 'the first user, the three others together (failed), then each alone');
      assert.equal((await metrics.projectionErrors.get()).values[0]?.value, 1);
      for (const u of users) {
        assert.equal((await cursorOf(real, u)).seq, 6);
        const history = await real.query(
          'SELECT x.seq FROM message_changes x JOIN conversations c ON c.id = x.conversation_id WHERE c.user_id = $1', [u]);
        assert.equal(history.rows.length, 5, 'each change once');
      }
    });

    it('close() waits for the batch in flight, which commits, and projects nothing after', async () => {
      await appendChanges(db(), user, device, Array.from({ length: 60 }, (_, i) => put(i + 1, 'a', 'ui', `${i}:0`, `m${i}`)));
      const projector = new Projector({ db: db(), batchSize: 20, sweepIntervalMs: 0, settleMs: 0 });
      const cursors: number[] = [];
      projector.onBatch((e) => { if (e.outcome.status === 'projected') cursors.push(e.outcome.cursor); });
      projector.markDirty(user); // the first batch starts now
      await projector.close();
      assert.deepEqual(cursors, [20]);
      assert.equal((await cursorOf(db(), user)).seq, 20);
      projector.markDirty(user);
      await projector.idle();
      assert.equal((await cursorOf(db(), user)).seq, 20);
    });

    it('two projectors on one database project every change exactly once', async function () {
      this.timeout(60_000);
      const users = [user, await insertUser(db()), await insertUser(db())];
      const first = new Projector({ db: db(), batchSize: 3, sweepIntervalMs: 0, retryMs: 5 });
      const second = new Projector({ db: db(), batchSize: 3, sweepIntervalMs: 0, retryMs: 5 });
      const outcomes: string[] = [];
      first.onBatch((e) => outcomes.push(e.outcome.status));
      second.onBatch((e) => outcomes.push(e.outcome.status));
      try {
        let clientSeq = 0;
        for (let round = 0; round < 6; round++) {
          for (const u of users) {
            const changes = [0, 1, 2, 3].map((i) => put(++clientSeq, `t${round % 2}`, 'ui', `${round * 10 + i}:0`, `r${round}-${i}`));
            await appendChanges(db(), u, device, changes);
            first.markDirty(u);
            second.markDirty(u);
          }
        }
        await Promise.all([first.idle(), second.idle()]);
        await first.sweep();
        await second.sweep();
        await Promise.all([first.idle(), second.idle()]);
      } finally {
        await Promise.all([first.close(), second.close()]);
      }
      for (const u of users) {
        const history = await db().query<{ seq: number }>(
          `SELECT x.seq FROM message_changes x JOIN conversations c ON c.id = x.conversation_id WHERE c.user_id = $1 ORDER BY x.seq`,
          [u],
        );
        assert.equal(history.rows.length, 24, 'one history row per change');
        assert.equal(new Set(history.rows.map((r) => Number(r.seq))).size, 24, 'no change projected twice');
        assert.equal((await cursorOf(db(), u)).seq, (await db().query<{ seq: number }>('SELECT seq FROM sync_log_heads WHERE user_id = $1', [u])).rows[0]!.seq);
        assert.equal((await dump(db(), u)).messages.length, 24);
      }
      assert.ok(outcomes.includes('projected'));
    });
  });
}
