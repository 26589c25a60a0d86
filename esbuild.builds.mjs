// The esbuild options of every bundle roo-sync ships, defined once: esbuild.config.mjs (`npm run
// build`) builds them all, and the tests and benchmarks that drive the built CLI
// (test/support/cli-process.ts) build `cliBuild` from here, so they run what users get.
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: entry points and outfiles are relative to it, whatever the cwd. */
const root = dirname(fileURLToPath(import.meta.url));

/**
 * diff3@0.0.4's onp.js assigns an undeclared `ed` (an unused edit distance). Loaded by Node as
 * its own sloppy-mode module that only leaks a global, but inside a bundle (strict mode) it
 * throws `ed is not defined` on every text merge. Declare it in that module.
 * @type {import('esbuild').Plugin}
 */
const diff3StrictMode = {
  name: 'diff3-strict-mode',
  setup(build) {
    build.onLoad({ filter: /[\\/]diff3[\\/]onp\.js$/ }, async (args) => ({ contents: `var ed;\n${await readFile(args.path, 'utf8')}`, loader: 'js' }));
  },
};

/** @type {import('esbuild').BuildOptions} */
const common = {
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  logLevel: 'info',
  // jsonc-parser's `main` is a UMD build whose dynamic requires a bundle cannot follow; its
  // `module` (ESM) build bundles cleanly.
  mainFields: ['module', 'main'],
  plugins: [diff3StrictMode],
};

/** The VS Code extension: the host loads CommonJS; `vscode` is provided by the host. */
export const extensionBuild = { ...common, entryPoints: ['extension/main.ts'], outfile: 'dist/extension.js', external: ['vscode'] };

/** The extension's device worker thread (core's SyncDevice off the extension host's event loop). */
export const deviceWorkerBuild = { ...common, entryPoints: ['extension/device-worker/worker.ts'], outfile: 'dist/device-worker.js' };

/** The CLI carries its runtime dependencies (PGlite ships its WASM files, so it stays external). */
export const cliBuild = {
  ...common,
  entryPoints: ['cli/main.ts'],
  outfile: 'dist/cli.js',
  banner: { js: '#!/usr/bin/env node' },
  external: ['@electric-sql/pglite', 'pg-native'],
};

/** Every bundle `npm run build` writes (the web page is built beside them, web/build-web.mjs). */
export const builds = [extensionBuild, deviceWorkerBuild, cliBuild];
