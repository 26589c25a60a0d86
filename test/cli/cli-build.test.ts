/**
 * The CLI the tests run is the CLI users get: test/support/cli-process.ts builds dist/cli.js
 * from esbuild.builds.mjs, the options `npm run build` uses. It once bundled with a copy of
 * them that lacked the diff3 strict-mode plugin, so the tested CLI threw `ed is not defined` on
 * every text merge while the shipped one did not.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { buildCli, CLI_BUNDLE } from '../support/cli-process';

describe('buildCli', () => {
  it("bundles with npm run build's plugins: diff3's undeclared `ed` is declared", async () => {
    await buildCli();
    const bundle = await readFile(CLI_BUNDLE, 'utf8');
    assert.match(bundle, /^#!\/usr\/bin\/env node/);
    assert.ok(bundle.includes('var ed;'), 'the diff3-strict-mode plugin declared `ed` in onp.js');
  });
});
