// Bundles the VS Code extension, the roo-sync CLI and the relay's web page (dist/web, see
// web/build-web.mjs). `node esbuild.config.mjs [--watch]`.
import * as esbuild from 'esbuild';
import { buildWeb } from './web/build-web.mjs';
import { readFile } from 'node:fs/promises';

/**
 * diff3@0.0.4's onp.js assigns an undeclared `ed` (an unused edit distance). Loaded by Node as
 * its own sloppy-mode module that only leaks a global, but inside a bundle (strict mode) it
 * throws `ed is not defined` on every text merge. Declare it in that module.
 */
const diff3StrictMode = {
  name: 'diff3-strict-mode',
  setup(build) {
    build.onLoad({ filter: /[\\/]diff3[\\/]onp\.js$/ }, async (args) => ({ contents: `var ed;\n${await readFile(args.path, 'utf8')}`, loader: 'js' }));
  },
};

const common = {
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

const builds = [
  // The extension host loads CommonJS; `vscode` is provided by the host. `module` first: the
  // UMD `main` of jsonc-parser requires its parts at run time, which a bundle cannot resolve.
  { ...common, entryPoints: ['extension/main.ts'], outfile: 'dist/extension.js', external: ['vscode'], mainFields: ['module', 'main'] },
  // The extension's device worker thread (core's SyncDevice off the extension host's event loop).
  { ...common, entryPoints: ['extension/device-worker/worker.ts'], outfile: 'dist/device-worker.js', mainFields: ['module', 'main'] },
  // The CLI carries its runtime dependencies (PGlite ships its WASM files, so it stays external).
  {
    ...common,
    entryPoints: ['cli/main.ts'],
    outfile: 'dist/cli.js',
    banner: { js: '#!/usr/bin/env node' },
    external: ['@electric-sql/pglite', 'pg-native'],
  },
];

if (process.argv.includes('--watch')) {
  // The page is built once (its index.html names the hashed bundle); rerun for page changes.
  await buildWeb({ outDir: 'dist/web', logLevel: 'info' });
  for (const options of builds) await (await esbuild.context(options)).watch();
} else {
  await Promise.all([...builds.map((options) => esbuild.build(options)), buildWeb({ outDir: 'dist/web', logLevel: 'info' })]);
}
