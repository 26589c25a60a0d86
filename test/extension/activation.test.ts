/**
 * roo-sync activates in a real code-server extension host with sync off (the default), and an
 * assistant's task store is byte for byte the same afterwards: hashed before and after.
 */
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { useExtensionHosts } from './support/host-session';

async function hashTree(root: string): Promise<Map<string, string>> {
  const hashes = new Map<string, string>();
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else hashes.set(relative(root, path), createHash('sha256').update(await readFile(path)).digest('hex'));
    }
  };
  await walk(root);
  return hashes;
}

describe('roo-sync activation in a real extension host', function () {
  this.timeout(180_000);
  const hosts = useExtensionHosts();

  it('activates with its commands, settings and view, and with sync off touches no file of the task store', async () => {
    const server = await hosts.startServer('activation');
    const globalStorage = join(server.userDataDir, 'User', 'globalStorage');
    const store = join(globalStorage, 'rooveterinaryinc.roo-cline');
    const task = join(store, 'tasks', '0190a1b2-0000-7000-8000-000000000001');
    await mkdir(task, { recursive: true });
    const ui = [{ ts: 1_700_000_000_000, type: 'say', say: 'text', text: 'an existing local task' }];
    await writeFile(join(task, 'ui_messages.json'), JSON.stringify(ui));
    await writeFile(join(task, 'api_conversation_history.json'), JSON.stringify([{ role: 'user', content: 'an existing local task' }]));
    await writeFile(join(task, 'history_item.json'), JSON.stringify({ id: '0190a1b2-0000-7000-8000-000000000001', number: 1, ts: ui[0]!.ts, task: 'an existing local task', tokensIn: 0, tokensOut: 0, totalCost: 0 }));
    await writeFile(join(store, 'tasks', '_index.json'), JSON.stringify({ version: 1, updatedAt: 1, entries: [] }));
    const before = await hashTree(store);

    const result = await hosts.run(server, { suites: ['activation.host-test'] });

    assert.deepEqual(await hashTree(store), before);
    assert.deepEqual((await readdir(globalStorage)).filter((name) => name.startsWith('roo-sync')), []);
    assert.ok(result.log.some((line) => line.includes('6 passing')), result.log.join('\n'));
  });
});
