/**
 * `npm run test:extension:electron`: the standalone extension-host suites (activation, fixture
 * assistant) in desktop VS Code through @vscode/test-electron, for machines that can download
 * VS Code (this project's CI cannot; it runs the same suites in code-server, see
 * test/extension/support). VSCODE_VERSION picks the version (default: the engines minimum);
 * VSCODE_EXECUTABLE uses an installed VS Code instead of downloading one. Without either a
 * download, it fails with one line saying so.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { downloadAndUnzipVSCode, resolveCliArgsFromVSCodeExecutablePath, runTests } from '@vscode/test-electron';
import { buildForHost, FIXTURE_ASSISTANT_VSIX, HOST_SUITES_DIR, REPO_ROOT } from '../support/build';

/** Why this run cannot go on, said once on stderr (no stack trace). */
class RunnerError extends Error {}

/** An installed VS Code (VSCODE_EXECUTABLE), or the one @vscode/test-electron downloads. */
async function vscodeExecutable(): Promise<string> {
  const installed = process.env['VSCODE_EXECUTABLE'];
  if (installed) return installed;
  const version = process.env['VSCODE_VERSION'] ?? '1.100.3';
  try {
    return await downloadAndUnzipVSCode(version);
  } catch (error) {
    const reason = (error as { code?: string; message?: string })?.code ?? (error as Error)?.message ?? String(error);
    throw new RunnerError(
      `test:extension:electron could not download VS Code ${version} (${reason}): this machine cannot reach update.code.visualstudio.com. ` +
        'Run it on a machine that can (see docs/extension.md, "Tests in real extension hosts"), or point VSCODE_EXECUTABLE at an installed VS Code (e.g. /usr/share/code/code). ' +
        'The same suites run here in code-server: npm run test:extension.',
    );
  }
}

async function main(): Promise<void> {
  await buildForHost();
  const vscodeExecutablePath = await vscodeExecutable();
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
  console.error(error instanceof RunnerError ? `error: ${error.message}` : error);
  process.exitCode = 1;
});
