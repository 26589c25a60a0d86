// Bundles the VS Code extension, the roo-sync CLI (their options: esbuild.builds.mjs) and the
// relay's web page (dist/web, see web/build-web.mjs). `node esbuild.config.mjs [--watch]`.
import * as esbuild from 'esbuild';
import { builds } from './esbuild.builds.mjs';
import { buildWeb } from './web/build-web.mjs';

if (process.argv.includes('--watch')) {
  // The page is built once (its index.html names the hashed bundle); rerun for page changes.
  await buildWeb({ outDir: 'dist/web', logLevel: 'info' });
  for (const options of builds) await (await esbuild.context(options)).watch();
} else {
  await Promise.all([...builds.map((options) => esbuild.build(options)), buildWeb({ outDir: 'dist/web', logLevel: 'info' })]);
}
