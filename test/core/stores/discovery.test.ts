import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { discoverTaskStores, readEditorSettings, userDataLocations } from '../../../core/node/stores/discovery';

describe('discovery', () => {
  let home: string;
  beforeEach(async () => {
    home = await mkdtemp(join(tmpdir(), 'roo-sync-home-'));
  });
  afterEach(() => rm(home, { recursive: true, force: true }));

  const summary = (stores: Awaited<ReturnType<typeof discoverTaskStores>>['stores']) =>
    stores.map((s) => `${s.editor} ${s.extensionId} ${s.foundBy} ${s.basePath.slice(home.length)}`).sort();

  describe('#userDataLocations', () => {
    it('names the default User folders of every editor on each platform', () => {
      const linux = userDataLocations({ home: '/h', platform: 'linux', env: {} }).map((l) => l.userDataDir);
      assert.ok(linux.includes('/h/.config/Code/User'));
      assert.ok(linux.includes('/h/.config/Code - Insiders/User'));
      assert.ok(linux.includes('/h/.config/Cursor/User'));
      assert.ok(linux.includes('/h/.config/VSCodium/User'));
      assert.ok(linux.includes('/h/.config/Windsurf/User'));
      assert.ok(linux.includes('/h/.vscode-server/data/User'));
      const mac = userDataLocations({ home: '/h', platform: 'darwin', env: {} }).map((l) => l.userDataDir);
      assert.ok(mac.includes('/h/Library/Application Support/Code/User'));
      const win = userDataLocations({ home: '/h', platform: 'win32', env: { APPDATA: '/appdata' } }).map((l) => l.userDataDir);
      assert.ok(win.includes('/appdata/Code/User'));
      const xdg = userDataLocations({ home: '/h', platform: 'linux', env: { XDG_CONFIG_HOME: '/xdg' } }).map((l) => l.userDataDir);
      assert.ok(xdg.includes('/xdg/Cursor/User'));
    });

    it('reads machine settings of remote hosts after the user settings', () => {
      const remote = userDataLocations({ home: '/h', platform: 'linux', env: {} }).find((l) => l.editor === '.vscode-server')!;
      assert.deepEqual(remote.settingsFiles, ['/h/.vscode-server/data/User/settings.json', '/h/.vscode-server/data/Machine/settings.json']);
    });
  });

  describe('#discoverTaskStores', () => {
    it('finds only the existing default folders, for every assistant and editor', async () => {
      await mkdir(join(home, '.config/Code/User/globalStorage/rooveterinaryinc.roo-cline/tasks'), { recursive: true });
      await mkdir(join(home, '.config/Cursor/User/globalStorage/saoudrizwan.claude-dev'), { recursive: true });
      await mkdir(join(home, '.config/VSCodium/User/globalStorage/kilocode.kilo-code'), { recursive: true });
      await mkdir(join(home, '.vscode-server/data/User/globalStorage/zoocodeorganization.zoo-code'), { recursive: true });
      await mkdir(join(home, '.config/Windsurf/User/globalStorage/some.other-extension'), { recursive: true });
      const { stores, problems } = await discoverTaskStores({ home, platform: 'linux', env: {} });
      assert.deepEqual(problems, []);
      assert.deepEqual(summary(stores), [
        '.vscode-server zoocodeorganization.zoo-code default-location /.vscode-server/data/User/globalStorage/zoocodeorganization.zoo-code',
        'Code rooveterinaryinc.roo-cline default-location /.config/Code/User/globalStorage/rooveterinaryinc.roo-cline',
        'Cursor saoudrizwan.claude-dev default-location /.config/Cursor/User/globalStorage/saoudrizwan.claude-dev',
        'VSCodium kilocode.kilo-code default-location /.config/VSCodium/User/globalStorage/kilocode.kilo-code',
      ]);
      assert.equal(stores.find((s) => s.source === 'cline')!.layout.kind, 'cline');
    });

    it('finds a custom storage path named in JSONC settings with comments and trailing commas', async () => {
      const custom = join(home, 'synced', 'roo');
      const zooCustom = join(home, 'zoo-store');
      await mkdir(custom, { recursive: true });
      await mkdir(zooCustom, { recursive: true });
      await mkdir(join(home, '.config/Code/User/globalStorage/rooveterinaryinc.roo-cline'), { recursive: true });
      const settings = `// user settings
{
  /* where Roo keeps tasks */
  "roo-cline.customStoragePath": ${JSON.stringify(custom)},
  "zoo-code.customStoragePath": ${JSON.stringify(zooCustom)}, // the fork
  "kilo-code.customStoragePath": ${JSON.stringify(join(home, 'does-not-exist'))},
  "editor.fontSize": 14,
}
`;
      await writeFile(join(home, '.config/Code/User/settings.json'), settings);
      const { stores, problems } = await discoverTaskStores({ home, platform: 'linux', env: {} });
      assert.deepEqual(problems, []);
      assert.deepEqual(summary(stores), [
        'Code rooveterinaryinc.roo-cline custom-storage-setting /synced/roo',
        'Code rooveterinaryinc.roo-cline default-location /.config/Code/User/globalStorage/rooveterinaryinc.roo-cline',
        'Code zoocodeorganization.zoo-code custom-storage-setting /zoo-store',
      ]);
      const roo = stores.find((s) => s.foundBy === 'custom-storage-setting' && s.source === 'roo-code')!;
      assert.equal(roo.settingsPath, join(home, '.config/Code/User/settings.json'));
      assert.equal(roo.globalStoragePath, join(home, '.config/Code/User/globalStorage/rooveterinaryinc.roo-cline'));
    });

    it('takes the custom path of a remote host from its Machine settings', async () => {
      const custom = join(home, 'container-history');
      await mkdir(custom, { recursive: true });
      await mkdir(join(home, '.vscode-server/data/User'), { recursive: true });
      await mkdir(join(home, '.vscode-server/data/Machine'), { recursive: true });
      await writeFile(join(home, '.vscode-server/data/Machine/settings.json'), `{"roo-cline.customStoragePath": ${JSON.stringify(custom)},}`);
      const { stores } = await discoverTaskStores({ home, platform: 'linux', env: {} });
      assert.deepEqual(summary(stores), ['.vscode-server rooveterinaryinc.roo-cline custom-storage-setting /container-history']);
    });

    it('ignores relative and empty custom paths', async () => {
      await mkdir(join(home, '.config/Code/User'), { recursive: true });
      await mkdir(join(home, 'rel'), { recursive: true });
      await writeFile(join(home, '.config/Code/User/settings.json'), '{"roo-cline.customStoragePath": "rel", "zoo-code.customStoragePath": ""}');
      const { stores } = await discoverTaskStores({ home, platform: 'linux', env: {} });
      assert.deepEqual(stores, []);
    });

    it('uses macOS and Windows (APPDATA) folders', async () => {
      await mkdir(join(home, 'Library/Application Support/Code - Insiders/User/globalStorage/rooveterinaryinc.roo-cline'), { recursive: true });
      const mac = await discoverTaskStores({ home, platform: 'darwin', env: {} });
      assert.deepEqual(mac.stores.map((s) => [s.editor, s.source]), [['Code - Insiders', 'roo-code']]);
      const appdata = join(home, 'AppData', 'Roaming');
      await mkdir(join(appdata, 'Code/User/globalStorage/saoudrizwan.claude-dev'), { recursive: true });
      const win = await discoverTaskStores({ home, platform: 'win32', env: { APPDATA: appdata } });
      assert.deepEqual(win.stores.map((s) => [s.editor, s.source]), [['Code', 'cline']]);
    });

    it('reports a broken settings.json and still finds the default folders', async () => {
      await mkdir(join(home, '.config/Code/User/globalStorage/rooveterinaryinc.roo-cline'), { recursive: true });
      await writeFile(join(home, '.config/Code/User/settings.json'), '{"roo-cline.customStoragePath": ');
      const { stores, problems } = await discoverTaskStores({ home, platform: 'linux', env: {} });
      assert.equal(stores.length, 1);
      assert.equal(problems[0]!.code, 'STORE_SETTINGS_UNREADABLE');
      assert.equal(problems[0]!.path, join(home, '.config/Code/User/settings.json'));
    });

    it('restricts the search to the editors asked for', async () => {
      await mkdir(join(home, '.config/Code/User/globalStorage/rooveterinaryinc.roo-cline'), { recursive: true });
      await mkdir(join(home, '.config/Cursor/User/globalStorage/rooveterinaryinc.roo-cline'), { recursive: true });
      const { stores } = await discoverTaskStores({ home, platform: 'linux', env: {}, editors: ['Cursor'] });
      assert.deepEqual(stores.map((s) => s.editor), ['Cursor']);
    });
  });

  describe('#readEditorSettings', () => {
    it('returns null for a missing file', async () => {
      assert.equal(await readEditorSettings(join(home, 'nope.json')), null);
    });
  });
});
