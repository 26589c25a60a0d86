// Bundles the VS Code extension and the roo-sync CLI. `node esbuild.config.mjs [--watch]`.
import * as esbuild from 'esbuild';

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
  for (const options of builds) await (await esbuild.context(options)).watch();
} else {
  await Promise.all(builds.map((options) => esbuild.build(options)));
}
