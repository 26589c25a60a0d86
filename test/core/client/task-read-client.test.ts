/**
 * TaskReadClient.streamFile against scripted answers (the real route is tested in
 * test/server/http/task-messages.suite.ts and by every backfill test): pages joined in order
 * and counted, a page that is not a JSON array refused, and a relay without the route read
 * through its messages route instead.
 */
import assert from 'node:assert/strict';
import { TaskReadClient } from '../../../core/client/task-read-client';

type Answer = { body: string | Uint8Array; status?: number; headers?: Record<string, string> };

function clientAnswering(answers: Answer[]): { client: TaskReadClient; urls: string[] } {
  const urls: string[] = [];
  const client = new TaskReadClient('http://relay.test', async () => 'token', {
    fetch: async (url) => {
      urls.push(String(url));
      const answer = answers.shift();
      if (!answer) throw new Error('no more answers');
      return new Response(answer.body, { status: answer.status ?? 200, headers: answer.headers });
    },
  });
  return { client, urls };
}

describe('TaskReadClient.streamFile (core/client)', () => {
  it('follows roo-sync-next-after and joins the pages into one JSON array', async () => {
    const { client, urls } = clientAnswering([
      { body: '[{"ts":1},{"ts":2}]', headers: { 'roo-sync-next-after': '2:0' } },
      { body: '[{"ts":3}]' },
    ]);
    const file = await client.streamFile('roo-code', '1733', 'ui');
    assert.equal(new TextDecoder().decode(file.json), '[{"ts":1},{"ts":2},{"ts":3}]');
    assert.equal(file.count, 3);
    assert.deepEqual(urls, ['http://relay.test/v1/tasks/roo-code/1733/streams/ui?limit=1000', 'http://relay.test/v1/tasks/roo-code/1733/streams/ui?limit=1000&after=2%3A0']);
  });

  it('refuses a page that is not a JSON array (cut short, not UTF-8, an object) with RELAY_RESPONSE_INVALID', async () => {
    for (const body of ['[{"ts":1,"type":"say","text":"hel]', '{"ts":1}', '', new Uint8Array([0x5b, 0x22, 0xff, 0x22, 0x5d])]) {
      const { client } = clientAnswering([{ body }]);
      await assert.rejects(client.streamFile('roo-code', '1733', 'ui'), { code: 'RELAY_RESPONSE_INVALID' }, String(body));
    }
  });

  it('reads a relay older than the stream route through its messages route, and passes other errors on', async () => {
    const old = clientAnswering([
      { status: 404, body: JSON.stringify({ error: { code: 'ROUTE_NOT_FOUND', message: 'no such endpoint' } }) },
      { body: JSON.stringify({ stream: 'api', messages: [{ key: '1', hash: 'h', seq: 2, entry: { role: 'assistant' } }], nextBefore: '1' }) },
      { body: JSON.stringify({ stream: 'api', messages: [{ key: '0', hash: 'h', seq: 1, entry: { role: 'user' } }] }) },
    ]);
    const file = await old.client.streamFile('roo-code', '1733', 'api');
    assert.equal(new TextDecoder().decode(file.json), '[{"role":"user"},{"role":"assistant"}]');
    assert.equal(file.count, 2);
    assert.match(old.urls[1]!, /\/messages\?stream=api/);
    const missing = clientAnswering([{ status: 404, body: JSON.stringify({ error: { code: 'TASK_NOT_FOUND', message: 'no such task' } }) }]);
    await assert.rejects(missing.client.streamFile('roo-code', '1733', 'api'), { code: 'TASK_NOT_FOUND' });
  });
});
