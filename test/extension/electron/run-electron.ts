/**
 * `npm run test:extension:electron`: the standalone extension-host suites (activation, fixture
 * assistant) in desktop VS Code through @vscode/test-electron, for machines that can download
 * VS Code (this project's CI cannot; it runs the same suites in code-server, see
 * test/extension/support). VSCODE_VERSION picks the version (default: the engines minimum).
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { downloadAndUnzipVSCode, resolveCliArgsFromVSCodeExecutablePath, runTests } from '@vscode/test-electron';
import { buildForHost, FIXTURE_ASSISTANT_VSIX, HOST_SUITES_DIR, REPO_ROOT } from '../support/build';

async function main(): Promise<void> {
  await buildForHost();
  const vscodeExecutablePath = await downloadAndUnzipVSCode(process.env['VSCODE_VERSION'] ?? '1.100.3');
  const dir = await mkdtemp(join(tmpdir(), 'roo-sync-electron-'));
  const extensionsDir = join(dir, 'ext');
  const userDataDir = join(dir, 'ud');
  const workspace = join(dir, 'workspace');
  await mkdir(workspace, { recursive: true });
  // The fixture assistant is installed like a real Roo Code.
  const [cli, ...cliArgs] = resolveCliArgsFromVSCodeExecutablePath(vscodeExecutablePath);
  const install = spawnSync(cli!, [...cliArgs, '--extensions-dir', extensionsDir, '--user-data-dir', userDataDir, '--install-extension', FIXTURE_ASSISTANT_VSIX], { stdio: 'inherit' });
  if (install.status !== 0) throw new Error(`installing the fixture assistant failed (${install.status})`);
  await runTests({
    vscodeExecutablePath,
    extensionDevelopmentPath: REPO_ROOT,
    extensionTestsPath: join(HOST_SUITES_DIR, 'index.js'),
    extensionTestsEnv: { ROO_SYNC_TEST_HOOKS: '1' },
    launchArgs: [workspace, '--extensions-dir', extensionsDir, '--user-data-dir', userDataDir, '--disable-workspace-trust'],
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
