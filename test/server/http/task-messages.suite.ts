/**
 * GET /v1/tasks/:source/:taskId/messages end to end, run on PGlite with the in-process cache
 * (task-messages.pglite.test.ts) and on PostgreSQL + Redis (task-messages.postgres.test.ts): a
 * device pushes over a real sync WebSocket, the relay's projector writes the read model, and the
 * route pages it newest first; per-user scoping, validation, and the switch that turns it off.
 * GET /v1/tasks/:source/:taskId/streams/:stream: the same entries oldest first as the text of
 * the stream's file, paged by `after` and the roo-sync-next-after header.
 * GET /v1/read-model: the caller's log and projected seqs, which meet once the projector has run.
 */
import assert from 'node:assert/strict';
import type { ClientChange } from '../../../core/model/changes';
import type { Database } from '../../../server/db/database';
import { waitFor } from '../../support/redis';
import { connectDevice } from '../../support/sync-client';
import { hlc, taskMeta } from '../db/fixtures';
import { api, errorCode, signIn, startTestRelay, useSuiteRelay, type SignedIn } from './relay-fixture';

export interface TaskMessagesSuiteSetup {
  db(): Database;
  flags(): Record<string, unknown>;
}

function put(clientSeq: number, taskId: string, stream: 'ui' | 'api', key: string, text: string): ClientChange {
  return {
    clientSeq, baseSeq: null,
    body: { type: 'stream.put', source: 'roo-code', taskId: taskId as never, stream, key, hash: 'a'.repeat(64), entry: { say: 'text', text } },
  };
}

/** Reads until `done` holds for the value read (the projector runs after the ack), and returns that value. */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  let value!: T;
  await waitFor(async () => done((value = await read())), 'the read model to show the pushed changes');
  return value;
}

export function taskMessagesSuite(setup: TaskMessagesSuiteSetup): void {
  const relay = useSuiteRelay(setup);
  let ann: SignedIn;

  beforeEach(async () => {
    ann = await signIn(relay(), 'ann@example.com');
  });

  async function push(who: SignedIn, changes: ClientChange[]): Promise<void> {
    const { client } = await connectDevice(`${relay().url.replace(/^http/, 'ws')}/v1/sync`, { deviceId: who.deviceId, token: who.accessToken });
    try {
      const reply = await client.request({ type: 'push', changes });
      assert.equal(reply.type, 'ack', JSON.stringify(reply));
    } finally {
      await client.close();
    }
  }

  const messages = (who: SignedIn, query: string, taskId = 't1') =>
    api(relay(), 'GET', `/v1/tasks/roo-code/${taskId}/messages${query}`, { token: who.accessToken });

  it('serves pushed entries newest first in stream order, paged with limit and before', async () => {
    // Pushed out of order: the page order is the key order, not the order of arrival.
    await push(ann, [
      taskMeta(1, null, { ts: 100, task: 'hello' }, hlc(1), 't1'),
      put(2, 't1', 'ui', '300:0', 'third'),
      put(3, 't1', 'ui', '100:0', 'first'),
      put(4, 't1', 'ui', '200:0', 'second'),
      put(5, 't1', 'ui', '200:1', 'second, same ts'),
      put(6, 't1', 'api', '0', 'api zero'),
      put(7, 't1', 'api', '1', 'api one'),
    ]);
    const first = await until(() => messages(ann, '?limit=3'), (r) => r.status === 200 && r.body.messages.length === 3);
    assert.deepEqual(first.body.messages.map((m: { key: string }) => m.key), ['300:0', '200:1', '200:0']);
    assert.deepEqual(first.body.messages[0].entry, { say: 'text', text: 'third' });
    assert.equal(first.body.messages[0].seq, 2);
    assert.equal(first.body.stream, 'ui');
    assert.equal(first.body.nextBefore, '200:0');
    const second = await messages(ann, `?limit=3&before=${encodeURIComponent(first.body.nextBefore)}`);
    assert.deepEqual(second.body.messages.map((m: { key: string }) => m.key), ['100:0']);
    assert.equal(second.body.nextBefore, undefined);
    const apiPage = await messages(ann, '?stream=api');
    assert.deepEqual(apiPage.body.messages.map((m: { entry: { text: string } }) => m.entry.text), ['api one', 'api zero']);

    // A truncate ("delete from here") reaches the read model too.
    await push(ann, [{ clientSeq: 8, baseSeq: null, body: { type: 'stream.truncate', source: 'roo-code', taskId: 't1' as never, stream: 'ui', afterKey: '100:0' } }]);
    const truncated = await until(() => messages(ann, ''), (r) => r.body.messages.length === 1);
    assert.deepEqual(truncated.body.messages.map((m: { key: string }) => m.key), ['100:0']);

    const metrics = String((await api(relay(), 'GET', '/metrics')).body);
    assert.match(metrics, /roo_sync_projection_rows_total\{type="stream\.put"\} [1-9]/);
    assert.match(metrics, /roo_sync_projection_lag_changes 0/);
  });

  it('serves entries exactly as pushed, keys and text with quotes, backslashes and non-ASCII included', async () => {
    const tricky = 'é "quoted" \\ back\\slash 😀 \u2028 </script> \n';
    await push(ann, [taskMeta(1, null, { ts: 1 }, hlc(1), 't1'), put(2, 't1', 'ui', '5:0', tricky), put(3, 't1', 'ui', '6:0', '')]);
    const page = await until(() => messages(ann, '?limit=1'), (r) => r.status === 200 && r.body.messages.length === 1);
    assert.equal(page.body.nextBefore, '6:0');
    const older = await messages(ann, '?before=6%3A0');
    assert.deepEqual(older.body, { stream: 'ui', messages: [{ key: '5:0', hash: 'a'.repeat(64), seq: 2, entry: { say: 'text', text: tricky } }] });
  });

  it("answers another user's task, an unknown one and a deleted one alike: 404 TASK_NOT_FOUND", async () => {
    const bob = await signIn(relay(), 'bob@example.com');
    await push(ann, [taskMeta(1, null, { ts: 1 }, hlc(1), 't1'), put(2, 't1', 'ui', '1:0', 'secret'), taskMeta(3, null, { ts: 2 }, hlc(2), 'gone')]);
    await until(() => messages(ann, ''), (r) => r.status === 200 && r.body.messages.length === 1);
    await push(ann, [{ clientSeq: 4, baseSeq: 3, body: { type: 'task.delete', source: 'roo-code', taskId: 'gone' as never, clock: hlc(3) } }]);
    await until(() => messages(ann, '', 'gone'), (r) => r.status === 404);

    const cross = await messages(bob, '');
    const unknown = await messages(bob, '', 'nope');
    assert.deepEqual([cross.status, errorCode(cross)], [404, 'TASK_NOT_FOUND']);
    assert.deepEqual(cross.body, unknown.body);
    assert.equal(errorCode(await messages(ann, '', 'gone')), 'TASK_NOT_FOUND');
    assert.equal((await api(relay(), 'GET', '/v1/tasks/roo-code/t1/messages')).status, 401);
  });

  it('refuses a bad stream, limit or before with 400 REQUEST_INVALID', async () => {
    for (const query of ['?stream=log', '?limit=0', '?limit=1001', '?before=abc']) {
      const res = await messages(ann, query);
      assert.deepEqual([res.status, errorCode(res)], [400, 'REQUEST_INVALID'], query);
    }
  });

  const streamFile = (who: SignedIn, stream: string, query: string, taskId = 't1') =>
    api(relay(), 'GET', `/v1/tasks/roo-code/${taskId}/streams/${stream}${query}`, { token: who.accessToken });

  it('GET …/streams/:stream: the entries oldest first as the file\'s JSON text, paged by after', async () => {
    const tricky = 'é "quoted" \\ back\\slash 😀 \u2028 </script> \n';
    await push(ann, [
      taskMeta(1, null, { ts: 100, task: 'hello' }, hlc(1), 't1'),
      put(2, 't1', 'ui', '300:0', 'third'),
      put(3, 't1', 'ui', '100:0', tricky),
      put(4, 't1', 'ui', '200:0', 'second'),
      put(5, 't1', 'ui', '150:0', 'x'),
      put(6, 't1', 'api', '0', 'api zero'),
    ]);
    const whole = await until(() => streamFile(ann, 'ui', ''), (r) => r.status === 200 && Array.isArray(r.body) && r.body.length === 4);
    assert.deepEqual(whole.body, [{ say: 'text', text: tricky }, { say: 'text', text: 'x' }, { say: 'text', text: 'second' }, { say: 'text', text: 'third' }]);
    assert.equal(whole.headers.get('roo-sync-next-after'), null, 'one page');

    const first = await streamFile(ann, 'ui', '?limit=3');
    assert.deepEqual(first.body.map((e: { text: string }) => e.text), [tricky, 'x', 'second']);
    assert.equal(first.headers.get('roo-sync-next-after'), '200:0');
    const rest = await streamFile(ann, 'ui', '?limit=3&after=200%3A0');
    assert.deepEqual(rest.body, [{ say: 'text', text: 'third' }]);
    assert.equal(rest.headers.get('roo-sync-next-after'), null);
    const none = await streamFile(ann, 'ui', '?after=300%3A0');
    assert.deepEqual(none.body, []);
    assert.deepEqual((await streamFile(ann, 'api', '')).body, [{ say: 'text', text: 'api zero' }]);

    // Both routes serve the same entries.
    const newest = await messages(ann, '');
    assert.deepEqual(newest.body.messages.map((m: { entry: unknown }) => m.entry).reverse(), whole.body);
  });

  it('GET …/streams/:stream: 404 TASK_NOT_FOUND for another user\'s task, 400 REQUEST_INVALID for a bad stream, limit or after, 401 without a token', async () => {
    const bob = await signIn(relay(), 'bob@example.com');
    await push(ann, [taskMeta(1, null, { ts: 1 }, hlc(1), 't1'), put(2, 't1', 'ui', '1:0', 'secret')]);
    await until(() => streamFile(ann, 'ui', ''), (r) => r.status === 200 && r.body.length === 1);
    const cross = await streamFile(bob, 'ui', '');
    assert.deepEqual([cross.status, errorCode(cross)], [404, 'TASK_NOT_FOUND']);
    assert.deepEqual(cross.body, (await streamFile(bob, 'ui', '', 'nope')).body);
    for (const [stream, query] of [['log', ''], ['ui', '?limit=0'], ['ui', '?limit=1001'], ['ui', '?after=abc']] as const) {
      const res = await streamFile(ann, stream, query);
      assert.deepEqual([res.status, errorCode(res)], [400, 'REQUEST_INVALID'], `${stream}${query}`);
    }
    assert.equal((await api(relay(), 'GET', '/v1/tasks/roo-code/t1/streams/ui')).status, 401);
  });

  it("GET /v1/read-model: the caller's own log seq and projected seq, equal once the projector has run", async () => {
    const bob = await signIn(relay(), 'bob@example.com');
    const position = (who: SignedIn) => api<{ logSeq: number; projectedSeq: number }>(relay(), 'GET', '/v1/read-model', { token: who.accessToken });
    assert.deepEqual((await position(ann)).body, { logSeq: 0, projectedSeq: 0 }, 'nothing pushed yet');
    await push(ann, [taskMeta(1, null, { ts: 100, task: 'hello' }, hlc(1), 't1'), put(2, 't1', 'ui', '100:0', 'first'), put(3, 't1', 'ui', '200:0', 'second')]);
    const caught = await until(() => position(ann), (r) => r.body.projectedSeq === r.body.logSeq);
    assert.equal(caught.status, 200);
    assert.deepEqual(caught.body, { logSeq: 3, projectedSeq: 3 });
    assert.deepEqual((await position(bob)).body, { logSeq: 0, projectedSeq: 0 }, "another user's pushes are not counted");
    assert.equal((await api(relay(), 'GET', '/v1/read-model')).status, 401, 'bearer auth');
  });

  it('answers 503 PROJECTIONS_DISABLED on a relay started with projections off', async () => {
    const off = await startTestRelay(setup.db(), { ...setup.flags(), projections: 'off' });
    try {
      assert.equal(off.projector, undefined);
      const res = await api(off, 'GET', '/v1/tasks/roo-code/t1/messages', { token: ann.accessToken });
      assert.deepEqual([res.status, errorCode(res)], [503, 'PROJECTIONS_DISABLED']);
      const position = await api(off, 'GET', '/v1/read-model', { token: ann.accessToken });
      assert.deepEqual([position.status, errorCode(position)], [503, 'PROJECTIONS_DISABLED']);
    } finally {
      await off.close();
    }
  });
}
