/**
 * TaskReadClient.streamFile against scripted answers (the real route is tested in
 * test/server/http/task-messages.suite.ts and by every backfill test): pages joined in order,
 * the entry counts summed, and clear codes for a relay without the route or a page without
 * its count.
 */
import assert from 'node:assert/strict';
import { TaskReadClient } from '../../../core/client/task-read-client';

type Answer = { body: string; status?: number; headers?: Record<string, string> };

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
      { body: '[{"ts":1},{"ts":2}]', headers: { 'roo-sync-entries': '2', 'roo-sync-next-after': '2:0' } },
      { body: '[{"ts":3}]', headers: { 'roo-sync-entries': '1' } },
    ]);
    const file = await client.streamFile('roo-code', '1733', 'ui');
    assert.equal(new TextDecoder().decode(file.json), '[{"ts":1},{"ts":2},{"ts":3}]');
    assert.equal(file.count, 3);
    assert.deepEqual(urls, ['http://relay.test/v1/tasks/roo-code/1733/streams/ui?limit=1000', 'http://relay.test/v1/tasks/roo-code/1733/streams/ui?limit=1000&after=2%3A0']);
  });

  it('says RELAY_TOO_OLD when the relay has no stream route, and RELAY_RESPONSE_INVALID for a page without its count', async () => {
    const old = clientAnswering([{ status: 404, body: JSON.stringify({ error: { code: 'ROUTE_NOT_FOUND', message: 'no such endpoint' } }) }]);
    await assert.rejects(old.client.streamFile('roo-code', '1733', 'api'), { code: 'RELAY_TOO_OLD' });
    const missing = clientAnswering([{ status: 404, body: JSON.stringify({ error: { code: 'TASK_NOT_FOUND', message: 'no such task' } }) }]);
    await assert.rejects(missing.client.streamFile('roo-code', '1733', 'api'), { code: 'TASK_NOT_FOUND' });
    const uncounted = clientAnswering([{ body: '[]' }]);
    await assert.rejects(uncounted.client.streamFile('roo-code', '1733', 'ui'), { code: 'RELAY_RESPONSE_INVALID' });
  });
});
