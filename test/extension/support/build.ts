/**
 * Builds what an extension-host run loads: the extension itself (`node esbuild.config.mjs`, the
 * same bundle `vsce package` ships), the fixture assistant, and the in-host suites with their
 * `run()` index (CommonJS bundles in `.tmp/extension-host-tests/`, `vscode` and `mocha`
 * external). Once per test process.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import * as esbuild from 'esbuild';
import type { HostParams } from '../host/host-params';

/** The repository root: the extension under development (its package.json is the manifest). */
export const REPO_ROOT = resolve(__dirname, '..', '..', '..');
export const FIXTURE_ASSISTANT_DIR = join(REPO_ROOT, 'test', 'extension', 'fixture-assistant');
export const HOST_SUITES_DIR = join(REPO_ROOT, '.tmp', 'extension-host-tests');
/** The fixture assistant packaged as a .vsix (installed into a code-server like a real Roo Code). */
export const FIXTURE_ASSISTANT_VSIX = join(HOST_SUITES_DIR, 'roo-cline-fixture.vsix');
const HOST_SOURCES = join(REPO_ROOT, 'test', 'extension', 'host');

const common: esbuild.BuildOptions = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'inline',
  logLevel: 'silent',
  external: ['vscode', 'mocha'],
};

let built: Promise<void> | undefined;

/** Builds everything once; later calls share the first build. */
export function buildForHost(): Promise<void> {
  return (built ??= buildAll());
}

async function buildAll(): Promise<void> {
  await promisify(execFile)(process.execPath, ['esbuild.config.mjs'], { cwd: REPO_ROOT });
  const suites = readdirSync(HOST_SOURCES).filter((f) => f.endsWith('.host-test.ts'));
  await Promise.all([
    esbuild.build({ ...common, entryPoints: [join(FIXTURE_ASSISTANT_DIR, 'extension.ts')], outfile: join(FIXTURE_ASSISTANT_DIR, 'dist', 'extension.js') }),
    esbuild.build({
      ...common,
      entryPoints: [join(HOST_SOURCES, 'index.ts'), ...suites.map((f) => join(HOST_SOURCES, f))],
      outdir: HOST_SUITES_DIR,
    }),
  ]);
  await promisify(execFile)(
    join(REPO_ROOT, 'node_modules', '.bin', 'vsce'),
    ['package', '--no-dependencies', '--allow-missing-repository', '--skip-license', '-o', FIXTURE_ASSISTANT_VSIX],
    { cwd: FIXTURE_ASSISTANT_DIR },
  );
}

/**
 * Writes a run shim beside the index that runs `suites` (names without `.ts`, e.g.
 * `activation.host-test`) with `params`, and returns its path (give it as extensionTestsPath).
 */
export async function writeRunShim(name: string, suites: readonly string[], params: HostParams): Promise<string> {
  const path = join(HOST_SUITES_DIR, `run-${name}.js`);
  const files = suites.map((s) => `${s}.js`);
  await writeFile(
    path,
    `"use strict";\nconst index = require('./index.js');\nexports.run = () => index.runSuites(${JSON.stringify(files)}, ${JSON.stringify(params)});\n`,
  );
  return path;
}
