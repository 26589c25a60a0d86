// Bundles the VS Code extension, the roo-sync CLI and the relay's web page (dist/web, see
// web/build-web.mjs). `node esbuild.config.mjs [--watch]`.
import * as esbuild from 'esbuild';
import { buildWeb } from './web/build-web.mjs';

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
};

const builds = [
  // The extension host loads CommonJS; `vscode` is provided by the host.
  { ...common, entryPoints: ['extension/main.ts'], outfile: 'dist/extension.js', external: ['vscode'] },
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
