/**
 * GET /v1/tasks and GET /v1/tasks/:source/:taskId, run against PGlite with the in-process cache
 * (task-routes.pglite.test.ts) and against PostgreSQL + Redis (task-routes.postgres.test.ts):
 * folded metadata, deletes, paging and limit validation, per-user scoping, invalidation by a
 * push over a real sync socket, and the `tasks` cache hit/miss counters.
 */
import assert from 'node:assert/strict';
import { asDeviceId, asTaskId, asUserId } from '../../../core/ids';
import type { ClientChange } from '../../../core/model/changes';
import { appendChanges } from '../../../server/db/change-log';
import type { Database } from '../../../server/db/database';
import type { RelayServer } from '../../../server/relay-server';
import { connectDevice } from '../../support/sync-client';
import { hlc, taskMeta } from '../db/fixtures';
import { api, errorCode, signIn, useSuiteRelay, type SignedIn } from './relay-fixture';

export interface TaskSuiteSetup {
  db(): Database;
  flags(): Record<string, unknown>;
}

function taskDelete(clientSeq: number, taskId: string, clock: string): ClientChange {
  return { clientSeq, baseSeq: null, body: { type: 'task.delete', source: 'roo-code', taskId: asTaskId(taskId), clock } };
}

async function counter(relay: RelayServer, kind: 'cacheHits' | 'cacheMisses'): Promise<number> {
  const values = (await relay.metrics[kind].get()).values;
  return values.find((v) => v.labels.cache === 'tasks')?.value ?? 0;
}

export function taskRoutesSuite(setup: TaskSuiteSetup): void {
  const relay = useSuiteRelay(setup);

  /** Commits changes for `who` straight into the log (set-up before any read of that user). */
  async function seed(who: SignedIn, changes: ClientChange[]): Promise<void> {
    await appendChanges(setup.db(), asUserId(who.userId), asDeviceId(who.deviceId), changes);
  }

  describe('GET /v1/tasks', () => {
    it('lists live tasks newest ts first with folded metadata and the seq of their latest change', async () => {
      const ann = await signIn(relay(), 'ann@example.com');
      await seed(ann, [
        taskMeta(1, null, { ts: 1000, task: 'first' }, hlc(1), 'a'),
        taskMeta(2, null, { ts: 3000, task: 'second' }, hlc(2), 'b'),
        taskMeta(3, null, { task: 'first, renamed', tokensIn: 5 }, hlc(3), 'a'),
        taskMeta(4, null, { ts: 2000, task: 'gone' }, hlc(4), 'c'),
        taskDelete(5, 'c', hlc(5)),
      ]);
      const res = await api(relay(), 'GET', '/v1/tasks', { token: ann.accessToken });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.tasks.map((t: { taskId: string }) => t.taskId), ['b', 'a']);
      const a = res.body.tasks[1];
      assert.deepEqual(a.meta, { ts: 1000, task: 'first, renamed', tokensIn: 5 });
      assert.equal(a.source, 'roo-code');
      assert.equal(a.seq, 3);
      assert.equal(res.body.nextCursor, undefined);
    });

    it('pages with limit and cursor', async () => {
      const ann = await signIn(relay(), 'ann@example.com');
      await seed(ann, [1, 2, 3, 4, 5].map((n) => taskMeta(n, null, { ts: n * 1000 }, hlc(n), `t${n}`)));
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let pages = 0; pages < 5; pages++) {
        const query = cursor ? `?limit=2&cursor=${encodeURIComponent(cursor)}` : '?limit=2';
        const res = await api(relay(), 'GET', `/v1/tasks${query}`, { token: ann.accessToken });
        assert.equal(res.status, 200);
        seen.push(...res.body.tasks.map((t: { taskId: string }) => t.taskId));
        cursor = res.body.nextCursor;
        if (!cursor) break;
      }
      assert.deepEqual(seen, ['t5', 't4', 't3', 't2', 't1']);
    });

    it('filters by words of the text, by assistant and by device, counting the matches in total', async () => {
      const ann = await signIn(relay(), 'ann@example.com');
      const other = await signIn(relay(), 'ann@example.com', 'desktop', false);
      await seed(ann, [
        taskMeta(1, null, { ts: 1000, task: 'Fix the login page', workspace: '/home/ann/shop' }, hlc(1), 'a'),
        taskMeta(2, null, { ts: 2000, task: 'Write release notes', workspace: '/home/ann/docs' }, hlc(2), 'b'),
        { ...taskMeta(3, null, { ts: 3000, task: 'Login rate limit' }, hlc(3), 'c'), body: { ...taskMeta(3, null, { ts: 3000, task: 'Login rate limit' }, hlc(3), 'c').body, source: 'cline' } as ClientChange['body'] },
      ]);
      await seed(other, [taskMeta(1, null, { ts: 4000, task: 'login on the desktop' }, hlc(4), 'd')]);
      const ids = async (query: string) => {
        const res = await api(relay(), 'GET', `/v1/tasks${query}`, { token: ann.accessToken });
        assert.equal(res.status, 200, query);
        return { ids: res.body.tasks.map((t: { taskId: string }) => t.taskId), total: res.body.total };
      };
      assert.deepEqual(await ids('?q=LOGIN'), { ids: ['d', 'c', 'a'], total: 3 });
      assert.deepEqual(await ids('?q=login%20page'), { ids: ['a'], total: 1 });
      assert.deepEqual(await ids('?q=shop'), { ids: ['a'], total: 1 });
      assert.deepEqual(await ids('?source=cline'), { ids: ['c'], total: 1 });
      assert.deepEqual(await ids(`?device=${other.deviceId}`), { ids: ['d'], total: 1 });
      assert.deepEqual(await ids(`?q=login&device=${ann.deviceId}&limit=1`), { ids: ['c'], total: 2 });
      assert.deepEqual(await ids('?q=nothing-like-it'), { ids: [], total: 0 });
      const long = await api(relay(), 'GET', `/v1/tasks?q=${'x'.repeat(201)}`, { token: ann.accessToken });
      assert.equal(errorCode(long), 'REQUEST_INVALID');
    });

    it('answers 400 REQUEST_INVALID for a bad limit or cursor', async () => {
      const ann = await signIn(relay(), 'ann@example.com');
      for (const query of ['?limit=0', '?limit=1001', '?limit=abc', '?limit=-1', '?limit=1.5', '?cursor=nope']) {
        const res = await api(relay(), 'GET', `/v1/tasks${query}`, { token: ann.accessToken });
        assert.equal(res.status, 400, query);
        assert.equal(errorCode(res), 'REQUEST_INVALID', query);
      }
      assert.equal((await api(relay(), 'GET', '/v1/tasks?limit=1000', { token: ann.accessToken })).status, 200);
    });

    it('requires a token', async () => {
      const res = await api(relay(), 'GET', '/v1/tasks');
      assert.equal(res.status, 401);
      assert.equal(errorCode(res), 'AUTH_REQUIRED');
    });

    it('shows a task pushed over a sync socket on the next read, and counts hits and misses', async () => {
      const ann = await signIn(relay(), 'ann@example.com');
      const misses0 = await counter(relay(), 'cacheMisses');
      const hits0 = await counter(relay(), 'cacheHits');
      assert.deepEqual((await api(relay(), 'GET', '/v1/tasks', { token: ann.accessToken })).body.tasks, []);
      assert.deepEqual((await api(relay(), 'GET', '/v1/tasks', { token: ann.accessToken })).body.tasks, []);
      assert.equal(await counter(relay(), 'cacheMisses'), misses0 + 1);
      assert.equal(await counter(relay(), 'cacheHits'), hits0 + 1);

      const { client } = await connectDevice(`${relay().url.replace(/^http/, 'ws')}/v1/sync`, { deviceId: ann.deviceId, token: ann.accessToken });
      try {
        const reply = await client.request({ type: 'push', changes: [taskMeta(1, null, { ts: 5000, task: 'pushed' }, hlc(1), 'p')] });
        assert.equal(reply.type, 'ack');
        const after = await api(relay(), 'GET', '/v1/tasks', { token: ann.accessToken });
        assert.deepEqual(after.body.tasks.map((t: { taskId: string }) => t.taskId), ['p']);
        assert.equal(await counter(relay(), 'cacheMisses'), misses0 + 2);

        const deleted = await client.request({ type: 'push', changes: [taskDelete(2, 'p', hlc(2))] });
        assert.equal(deleted.type, 'ack');
        assert.deepEqual((await api(relay(), 'GET', '/v1/tasks', { token: ann.accessToken })).body.tasks, []);
        assert.equal((await api(relay(), 'GET', '/v1/tasks/roo-code/p', { token: ann.accessToken })).status, 404);
      } finally {
        await client.close();
      }
      const metrics = await api(relay(), 'GET', '/metrics');
      assert.match(String(metrics.body), /cache_hits_total\{[^}]*cache="tasks"[^}]*\} [1-9]/);
    });
  });

  describe('GET /v1/tasks/:source/:taskId', () => {
    it("returns one task's folded metadata", async () => {
      const ann = await signIn(relay(), 'ann@example.com');
      await seed(ann, [taskMeta(1, null, { ts: 1000, task: 'x', mode: 'code' }, hlc(1), 'a'), taskMeta(2, null, { mode: null }, hlc(2), 'a')]);
      const res = await api(relay(), 'GET', '/v1/tasks/roo-code/a', { token: ann.accessToken });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body, { source: 'roo-code', taskId: 'a', deviceId: ann.deviceId, seq: 2, ts: 1000, meta: { ts: 1000, task: 'x' } });
    });

    it("answers 404 TASK_NOT_FOUND for an unknown task and for another user's task alike", async () => {
      const ann = await signIn(relay(), 'ann@example.com');
      const bob = await signIn(relay(), 'bob@example.com');
      await seed(ann, [taskMeta(1, null, { ts: 1000 }, hlc(1), 'secret')]);
      const theirs = await api(relay(), 'GET', '/v1/tasks/roo-code/secret', { token: bob.accessToken });
      const unknown = await api(relay(), 'GET', '/v1/tasks/roo-code/nothing', { token: bob.accessToken });
      assert.equal(theirs.status, 404);
      assert.deepEqual(theirs.body, unknown.body);
      assert.equal(errorCode(theirs), 'TASK_NOT_FOUND');
      assert.deepEqual((await api(relay(), 'GET', '/v1/tasks', { token: bob.accessToken })).body.tasks, []);
      assert.equal((await api(relay(), 'GET', '/v1/tasks/roo-code/secret', { token: ann.accessToken })).status, 200);
    });
  });
}
