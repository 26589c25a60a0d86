/* The CLI's store selectors (core/node/stores/store-selection.ts): by assistant or folder. */
/** selectStores: which task stores a command works on (discovery, an assistant, a folder). */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSyncError } from '../../../core/errors';
import { selectStores } from '../../../core/node/stores/store-selection';

describe('selectStores', () => {
  let home: string;
  beforeEach(async () => {
    home = await mkdtemp(join(tmpdir(), 'roo-sync-select-'));
    await mkdir(join(home, '.config', 'Code', 'User', 'globalStorage', 'rooveterinaryinc.roo-cline', 'tasks'), { recursive: true });
    await mkdir(join(home, '.config', 'Cursor', 'User', 'globalStorage', 'rooveterinaryinc.roo-cline'), { recursive: true });
    await mkdir(join(home, '.vscode-server', 'data', 'User', 'globalStorage', 'saoudrizwan.claude-dev'), { recursive: true });
  });
  afterEach(() => rm(home, { recursive: true, force: true }));
  const discover = () => ({ home, platform: 'linux' as const, env: {} });

  it('selects every discovered store by default, and all stores of a named assistant', async () => {
    const all = await selectStores([], discover());
    assert.deepEqual(all.map((s) => s.source).sort(), ['cline', 'roo-code', 'roo-code']);
    const roo = await selectStores(['roo-code'], discover());
    assert.equal(roo.length, 2);
    assert.ok(roo.every((s) => s.found?.userDataDir));
  });

  it('takes a folder, guessing its assistant from its name or its index, or from ASSISTANT=PATH', async () => {
    const kilo = join(home, 'elsewhere', 'kilocode.kilo-code');
    const cline = join(home, 'cline-copy');
    await mkdir(kilo, { recursive: true });
    await mkdir(join(cline, 'state'), { recursive: true });
    await writeFile(join(cline, 'state', 'taskHistory.json'), '[]');
    const plain = join(home, 'plain');
    await mkdir(plain);
    const selected = await selectStores([kilo, cline, plain, `zoo-code=${plain}`], discover());
    assert.deepEqual(selected.map((s) => s.source), ['kilo-code', 'cline', 'roo-code', 'zoo-code']);
  });

  it('refuses an unknown name (CLI_USAGE) and an assistant that is not installed (CLI_STORE_NOT_FOUND)', async () => {
    await assert.rejects(selectStores(['nope'], discover()), (e: unknown) => isSyncError(e, 'CLI_USAGE'));
    await assert.rejects(selectStores([`vim=${home}`], discover()), (e: unknown) => isSyncError(e, 'CLI_USAGE'));
    await assert.rejects(selectStores(['kilo-code'], discover()), (e: unknown) => isSyncError(e, 'CLI_STORE_NOT_FOUND'));
  });
});
