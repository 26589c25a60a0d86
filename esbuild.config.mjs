// Bundles the VS Code extension and the roo-sync CLI. `node esbuild.config.mjs [--watch]`.
import * as esbuild from 'esbuild';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  logLevel: 'info',
};

const builds = [
  // The extension host loads CommonJS; `vscode` is provided by the host. `module` first: the
  // UMD `main` of jsonc-parser requires its parts at run time, which a bundle cannot resolve.
  { ...common, entryPoints: ['extension/main.ts'], outfile: 'dist/extension.js', external: ['vscode'], mainFields: ['module', 'main'] },
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
