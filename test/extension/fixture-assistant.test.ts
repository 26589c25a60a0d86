/**
 * The fixture assistant (test/extension/fixture-assistant) in a real code-server extension host:
 * installed from its .vsix under Roo Code's id, it writes a store in Roo Code's layout that
 * roo-sync's own reader (FsTaskStore) reads back. Run through the standard `run()` index, the
 * one `npm run test:extension:electron` hands to desktop VS Code.
 */
import * as assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FsTaskStore } from '../../core/node/stores/fs-task-store';
import type { TaskId } from '../../core/ids';
import { useExtensionHosts } from './support/host-session';

describe('fixture assistant (test fixture standing in for Roo Code)', function () {
  this.timeout(180_000);
  const hosts = useExtensionHosts();

  it('writes its tasks in Roo Code layout: history_item.json, tasks/_index.json, compact JSON, no leftovers', async () => {
    const server = await hosts.startServer('fixture');
    // The standard run() index (what @vscode/test-electron loads): activation, then the fixture suite.
    const result = await hosts.run(server);
    assert.ok(result.log.some((line) => /\b7 passing\b/.test(line)), result.log.join('\n'));

    const base = join(server.userDataDir, 'User', 'globalStorage', 'rooveterinaryinc.roo-cline');
    const index = JSON.parse(await readFile(join(base, 'tasks', '_index.json'), 'utf8')) as { version: number; entries: { id: string; ts: number; task: string }[] };
    assert.equal(index.version, 1);
    assert.deepEqual(index.entries.map((e) => e.task), ['first fixture task', 'second fixture task']);
    assert.ok(index.entries[0]!.ts > index.entries[1]!.ts, 'sorted newest first');

    for (const entry of index.entries) {
      const dir = join(base, 'tasks', entry.id);
      assert.deepEqual((await readdir(dir)).sort(), ['api_conversation_history.json', 'history_item.json', 'ui_messages.json']);
      const raw = await readFile(join(dir, 'ui_messages.json'), 'utf8');
      assert.ok(!raw.includes('\n'), 'compact JSON');
      const item = JSON.parse(await readFile(join(dir, 'history_item.json'), 'utf8')) as Record<string, unknown>;
      assert.equal(item['id'], entry.id);
      assert.ok((item['tokensIn'] as number) > 0 && (item['totalCost'] as number) > 0);
    }
    assert.deepEqual((await readdir(join(base, 'tasks'))).filter((n) => n.endsWith('.lock') || n.endsWith('.tmp')), []);

    const store = new FsTaskStore({ source: 'roo-code', basePath: base });
    const first = await store.readTask(index.entries[0]!.id as TaskId);
    assert.equal(first?.historyItem?.['task'], 'first fixture task');
    assert.deepEqual(first?.ui[0], { ...(first?.ui[0] as object), type: 'say', say: 'text', text: 'first fixture task' });
    assert.equal(first?.api.length, 6);
  });
});
